#!/usr/bin/env node
// ws_client.js: a WebSocket client built on Node's `ws`, started by the Go
// interop tests to play the peer of a fullduplex server. It runs one scripted
// exchange against the Go server and exits 0, or prints what did not match on
// stderr and exits 1.
//
// Usage: node ws_client.js '<json config>'
//   config: {"url": "ws://127.0.0.1:<port>", "scenario": "<name>",
//            "compress": bool, "deflate": {...}, ...scenario parameters}
//   (compress and deflate as in ws_server.js)
// Scenarios (the Go server's paths are in brackets):
//   sizes     [/echo or echo_path] send text and binary messages of each of
//             `sizes` bytes, then of each of `compressible` bytes of repetitive
//             text; check each echo is byte-exact and of the same type; with
//             `expect_deflate` check the permessage-deflate parameters in
//             force (see deflateReport in ws_server.js)
//   utf8      [/echo] send multi-byte texts, whole and fragmented inside
//             characters, check the echoes
//   fragments [/echo] send messages in several frames, check the echoes;
//             [/fragmented] receive the Go side's streamed message and check it
//             against the digest that follows it
//   ping      [/ping] ping with each of `payloads` (hex), check each pong's
//             payload, then wait for "ping-done" after the Go side's pings
//   close     [/close] for each of `codes`, close with the code and
//             `reasons[code]`; check the closing handshake completes
//   goclose   [/goclose] for each of `codes`, wait for the Go side's close and
//             check its code and `reasons[code]`
//   subproto  [/subproto] offer `offer`, check that `expect` is selected
//   fail      [/expectfail] for each of `cases`, send what the Go side must
//             refuse (kind toobig: op/size/chunks over its read limit; kind
//             badutf8: a text message that is not UTF-8) and check it closes
//             with want_code
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const config = JSON.parse(process.argv[2] || '{}');
const TIMEOUT_MS = 30000;

class Mismatch extends Error {}

function check(cond, msg) {
  if (!cond) throw new Mismatch(msg);
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

function randomPayload(op, size) {
  const b = crypto.randomBytes(size);
  if (op === 'text') for (let i = 0; i < size; i++) b[i] = 0x20 + (b[i] % 95);
  return b;
}

// deflateOptions maps the tests' deflate settings to ws's perMessageDeflate.
function deflateOptions(cfg) {
  if (!cfg.compress) return false;
  const d = cfg.deflate || {};
  const o = { threshold: 0 };
  if (d.server_no_context_takeover) o.serverNoContextTakeover = true;
  if (d.client_no_context_takeover) o.clientNoContextTakeover = true;
  if (d.server_max_window_bits) o.serverMaxWindowBits = d.server_max_window_bits;
  if (d.client_max_window_bits) o.clientMaxWindowBits = d.client_max_window_bits;
  return o;
}

// deflateReport is that of ws_server.js.
function deflateReport(ws) {
  const ext = ws._extensions['permessage-deflate'];
  if (!ext) return 'none';
  const p = ext.params;
  const bits = (v) => (typeof v === 'number' ? v : 15);
  return `snct=${!!p.server_no_context_takeover} cnct=${!!p.client_no_context_takeover} ` +
    `smwb=${bits(p.server_max_window_bits)} cmwb=${bits(p.client_max_window_bits)}`;
}

// Session wraps a ws client as a queue of events read with next().
class Session {
  constructor(url, options = {}) {
    this.queue = [];
    this.waiters = [];
    this.pongs = [];
    this.ws = new WebSocket(url, options.protocols || [], {
      perMessageDeflate: deflateOptions(config),
      maxPayload: 64 << 20,
      handshakeTimeout: 10000,
    });
    const push = (ev) => {
      const w = this.waiters.shift();
      if (w) w(ev);
      else this.queue.push(ev);
    };
    this.ws.on('message', (data, isBinary) => push({ type: 'message', data, isBinary }));
    this.ws.on('pong', (data) => push({ type: 'pong', data }));
    this.ws.on('close', (code, reason) => push({ type: 'close', code, reason: reason.toString() }));
    this.ws.on('error', (err) => push({ type: 'error', err }));
  }

  open() {
    return new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
  }

  next(what) {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Mismatch(`timeout waiting for ${what}`)), TIMEOUT_MS);
      this.waiters.push((ev) => {
        clearTimeout(timer);
        resolve(ev);
      });
    });
  }

  // message returns the next message, setting pongs aside in this.pongs.
  async message(what) {
    for (;;) {
      const ev = await this.next(what);
      if (ev.type === 'pong') {
        this.pongs.push(ev.data.toString('hex'));
        continue;
      }
      check(ev.type === 'message', `${what}: want a message, got ${describe(ev)}`);
      return ev;
    }
  }

  async closeEvent(what) {
    for (;;) {
      const ev = await this.next(what);
      if (ev.type === 'close') return ev;
      check(ev.type !== 'message', `${what}: unexpected message before close`);
    }
  }
}

function describe(ev) {
  if (ev.type === 'close') return `close ${ev.code} ${JSON.stringify(ev.reason)}`;
  if (ev.type === 'error') return `error ${ev.err.message}`;
  return ev.type;
}

async function connect(path, options) {
  const s = new Session(config.url + path, options);
  await s.open();
  return s;
}

async function closeNormally(s) {
  s.ws.close(1000, 'done');
  const ev = await s.closeEvent('close reply');
  check(ev.code !== 1006, 'closing handshake did not complete (1006)');
}

async function expectEcho(s, what, op, data) {
  const ev = await s.message(`echo of ${what}`);
  check(ev.isBinary === (op === 'binary'), `${what}: echo came back as ${ev.isBinary ? 'binary' : 'text'}`);
  check(ev.data.length === data.length, `${what}: echo has ${ev.data.length} bytes, want ${data.length}`);
  check(ev.data.equals(data), `${what}: echo differs from what was sent`);
}

const scenarios = {
  async sizes() {
    const s = await connect(config.echo_path || '/echo');
    if (config.expect_deflate !== undefined) {
      const got = deflateReport(s.ws);
      check(new RegExp(`^(?:${config.expect_deflate})$`).test(got), `permessage-deflate in force: ${got}, want ${config.expect_deflate}`);
    }
    for (const op of ['text', 'binary']) {
      for (const size of config.sizes) {
        const data = randomPayload(op, size);
        s.ws.send(data, { binary: op === 'binary' });
        await expectEcho(s, `${op} ${size} B`, op, data);
      }
    }
    for (const size of config.compressible || []) {
      const data = Buffer.from('fullduplex compresses this line well. '.repeat(size / 38 + 1).slice(0, size));
      for (const op of ['text', 'binary']) {
        s.ws.send(data, { binary: op === 'binary' });
        await expectEcho(s, `compressible ${op} ${size} B`, op, data);
      }
    }
    await closeNormally(s);
  },

  async utf8() {
    const s = await connect('/echo');
    const texts = ['é', '€uro', 'smile 😀', 'mixed: aé€😀z'.repeat(1000)];
    for (const t of texts) {
      const data = Buffer.from(t, 'utf8');
      s.ws.send(data, { binary: false });
      await expectEcho(s, `text ${JSON.stringify(t.slice(0, 16))}`, 'text', data);
      // One byte per frame: every multi-byte character is split across frames.
      if (data.length <= 64) {
        for (let i = 0; i < data.length; i++) {
          s.ws.send(data.subarray(i, i + 1), { binary: false, fin: i === data.length - 1 });
        }
        await expectEcho(s, `byte-fragmented ${JSON.stringify(t)}`, 'text', data);
      }
    }
    await closeNormally(s);
  },

  async fragments() {
    const s = await connect('/echo');
    for (const op of ['text', 'binary']) {
      for (const [size, chunks] of config.fragments) {
        const data = randomPayload(op, size);
        const step = Math.ceil(size / chunks) || 1;
        const what = `${op} ${size} B in ${chunks} fragments`;
        const mid = Buffer.from(`mid ${what}`);
        for (let i = 0; i < chunks; i++) {
          s.ws.send(data.subarray(Math.min(i * step, size), Math.min((i + 1) * step, size)), {
            binary: op === 'binary',
            fin: i === chunks - 1,
          });
          // RFC 6455 §5.4: control frames may be injected between fragments.
          if (i === 0 && chunks > 1) s.ws.ping(mid);
        }
        await expectEcho(s, what, op, data);
        if (chunks > 1) {
          if (!s.pongs.includes(mid.toString('hex'))) {
            const ev = await s.next(`pong to ping between fragments of ${what}`);
            check(ev.type === 'pong' && ev.data.equals(mid), `${what}: ping between fragments got ${describe(ev)}`);
          }
          s.pongs = [];
        }
      }
    }
    await closeNormally(s);
    for (const op of ['text', 'binary']) {
      for (const [size, chunks] of config.fragments) {
        const what = `Go-streamed ${op} ${size} B in ${chunks} writes`;
        const g = await connect(`/fragmented?op=${op}&size=${size}&chunks=${chunks}`);
        const msg = await g.message(what);
        const digest = await g.message(`digest after ${what}`);
        check(msg.isBinary === (op === 'binary'), `${what}: arrived as ${msg.isBinary ? 'binary' : 'text'}`);
        const want = digest.data.toString();
        const got = `sha256:${sha256(msg.data)} len:${msg.data.length}`;
        check(got === want, `${what}: got ${got}, Go sent ${want}`);
        await closeNormally(g);
      }
    }
  },

  async ping() {
    const s = await connect('/ping');
    for (const hex of config.payloads) {
      const want = Buffer.from(hex, 'hex');
      s.ws.ping(want);
      for (;;) {
        const ev = await s.next(`pong for ${hex}`);
        if (ev.type === 'message' && ev.data.toString() === 'ping-done') {
          s.done = true;
          continue;
        }
        check(ev.type === 'pong', `pong for ${JSON.stringify(hex)}: got ${describe(ev)}`);
        check(ev.data.equals(want), `pong payload ${ev.data.toString('hex')}, want ${hex}`);
        break;
      }
    }
    if (!s.done) {
      const ev = await s.message('ping-done');
      check(ev.data.toString() === 'ping-done', `want ping-done, got ${ev.data.toString()}`);
    }
    await closeNormally(s);
  },

  async close() {
    await Promise.all(
      config.codes.map(async (code) => {
        const reason = config.reasons[code];
        const s = await connect(`/close?code=${code}`);
        s.ws.close(code, reason);
        const ev = await s.closeEvent(`close reply to ${code}`);
        check(ev.code !== 1006, `close ${code}: closing handshake did not complete (1006)`);
      }),
    );
  },

  async goclose() {
    await Promise.all(
      config.codes.map(async (code) => {
        const s = await connect(`/goclose?code=${code}`);
        const ev = await s.closeEvent(`Go close ${code}`);
        check(ev.code === code, `Go closed with ${code}, ws saw ${ev.code}`);
        const want = config.reasons[code];
        check(ev.reason === want, `Go closed ${code} with reason ${JSON.stringify(want)}, ws saw ${JSON.stringify(ev.reason)}`);
      }),
    );
  },

  async fail() {
    for (const c of config.cases) {
      const what = `${c.kind} ${c.op || ''} ${c.size || ''} B in ${c.chunks || 1} frame(s)`;
      const s = await connect(`/expectfail?limit=${c.limit || 0}`);
      if (c.kind === 'badutf8') {
        s.ws.send(Buffer.from([0x61, 0xff, 0xfe, 0x62]), { binary: false });
      } else {
        const data = randomPayload(c.op, c.size);
        const step = Math.ceil(c.size / c.chunks);
        for (let i = 0; i < c.chunks; i++) {
          s.ws.send(data.subarray(i * step, Math.min((i + 1) * step, c.size)), { binary: c.op === 'binary', fin: i === c.chunks - 1 });
        }
      }
      const ev = await s.closeEvent(`close after ${what}`);
      check(ev.code === c.want_code, `${what}: Go closed with ${ev.code} ${JSON.stringify(ev.reason)}, want ${c.want_code}`);
    }
  },

  async subproto() {
    if (config.expect === '' && config.offer.length > 0) {
      // ws fails the connection when it offered subprotocols and the server
      // selected none (RFC 6455 §4.1 leaves that to the client), so what
      // can be checked is that the Go server sent no selection.
      try {
        const s = await connect(`/subproto?server=${encodeURIComponent(config.server.join(','))}`, { protocols: config.offer });
        s.ws.terminate();
        throw new Mismatch(`connected with subprotocol ${JSON.stringify(s.ws.protocol)}, want none (and ws to refuse)`);
      } catch (err) {
        if (err instanceof Mismatch) throw err;
        check(/Server sent no subprotocol/.test(err.message), `handshake failed with ${err.message}, want ws's "Server sent no subprotocol"`);
        return;
      }
    }
    const s = await connect(`/subproto?server=${encodeURIComponent(config.server.join(','))}`, {
      protocols: config.offer,
    });
    check(s.ws.protocol === config.expect, `negotiated ${JSON.stringify(s.ws.protocol)}, want ${JSON.stringify(config.expect)}`);
    const ev = await s.message('proto report');
    check(ev.data.toString() === `proto:${config.expect}`, `Go reported ${ev.data.toString()}`);
    await closeNormally(s);
  },
};

const run = scenarios[config.scenario];
if (!run) {
  process.stderr.write(`ws_client: unknown scenario ${config.scenario}\n`);
  process.exit(2);
}
const deadline = setTimeout(() => {
  process.stderr.write(`ws_client: ${config.scenario}: overall timeout\n`);
  process.exit(1);
}, 120000);
run().then(
  () => {
    clearTimeout(deadline);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`ws_client: ${config.scenario}: ${err instanceof Mismatch ? err.message : err.stack || err}\n`);
    process.exit(1);
  },
);
