#!/usr/bin/env node
// ws_server.js: a WebSocket server built on Node's `ws`, started by the Go
// interop tests to play the peer of a fullduplex client.
//
// Usage: node ws_server.js '<json config>'
//   config: {"compress": bool, "deflate": {...}, "subprotocols": ["a", "b"]}
//   deflate: permessage-deflate settings in RFC 7692's parameter names
//   (server_no_context_takeover, client_no_context_takeover: bool;
//   server_max_window_bits, client_max_window_bits: 8-15); absent ones keep
//   ws's defaults. Messages of every size are compressed (threshold 0).
//
// It listens on 127.0.0.1 on a free port and prints "PORT <n>" on stdout.
// Afterwards it prints one line "EVENT <id> <kind> <args...>" per thing the Go
// test may want to check after a connection is gone. The URL path picks what a
// connection does (query parameters in brackets):
//   /echo                         echo every message with its own type
//   /count                        answer each message with a text report
//                                 "frames:-1 type:<t> len:<n> sha256:<hex>"
//                                 (ws does not expose frames, hence -1)
//   /fragmented [op size chunks]  send one message of op text|binary|utf8 in
//                                 `chunks` fragments, then the text
//                                 "sha256:<hex> len:<n>", then echo
//   /ping [payload]               send an unsolicited pong, then ping with the
//                                 hex payload; when the pong comes back send
//                                 "pong-ok" or "pong-bad:<hex>"; echo
//   /close [code reason]          close at once with code and reason
//   /goclose                      echo
//   /badutf8                      send a text message that is not UTF-8, echo
// With an id parameter, any path reports EVENT <id> closed <code> <reason
// hex> once the connection is closed (the code received, 1006 if none).
//   /subproto                     send "proto:<negotiated subprotocol>", echo
//   /ext                          send "ext:<negotiated permessage-deflate
//                                 parameters>" (see deflateReport), echo
'use strict';

const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const config = JSON.parse(process.argv[2] || '{}');
const serverProtocols = config.subprotocols || [];

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

function event(id, kind, ...args) {
  process.stdout.write(['EVENT', id, kind, ...args].join(' ') + '\n');
}

// payload returns size bytes of random content; text is printable ASCII so
// that any split is valid UTF-8, utf8 mixes in 2-, 3- and 4-byte sequences so
// that fragment boundaries fall inside characters.
function payload(op, size) {
  const b = crypto.randomBytes(size);
  if (op === 'binary') return b;
  if (op === 'text') {
    for (let i = 0; i < size; i++) b[i] = 0x20 + (b[i] % 95);
    return b;
  }
  const chars = ['a', 'é', '€', '😀', 'z'];
  const parts = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    let c = Buffer.from(chars[b[i % size] % chars.length], 'utf8');
    if (n + c.length > size) c = Buffer.from('a');
    parts.push(c);
    n += c.length;
  }
  return Buffer.concat(parts);
}

// sendFragmented sends data as `chunks` frames of near-equal size, with
// boundaries at byte offsets (so inside UTF-8 sequences for op utf8).
function sendFragmented(ws, op, data, chunks) {
  const binary = op === 'binary';
  const step = Math.ceil(data.length / chunks) || 1;
  for (let i = 0; i < chunks; i++) {
    const part = data.subarray(Math.min(i * step, data.length), Math.min((i + 1) * step, data.length));
    ws.send(part, { binary, fin: i === chunks - 1 });
  }
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

// deflateReport describes the permessage-deflate parameters in force, as
// "snct=<bool> cnct=<bool> smwb=<bits> cmwb=<bits>" (an absent window
// parameter is the full 15 bits), or "none". ws exposes only the extension
// names publicly; the agreed parameters are on its extension object.
function deflateReport(ws) {
  const ext = ws._extensions['permessage-deflate'];
  if (!ext) return 'none';
  const p = ext.params;
  const bits = (v) => (typeof v === 'number' ? v : 15);
  return `snct=${!!p.server_no_context_takeover} cnct=${!!p.client_no_context_takeover} ` +
    `smwb=${bits(p.server_max_window_bits)} cmwb=${bits(p.client_max_window_bits)}`;
}

function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: 64 << 20,
  perMessageDeflate: deflateOptions(config),
  // Server preference order: the first of ours the client also offers.
  handleProtocols: (offered) => serverProtocols.find((p) => offered.has(p)) || false,
});

wss.on('listening', () => {
  process.stdout.write(`PORT ${wss.address().port}\n`);
});

wss.on('connection', (ws, req) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  const q = u.searchParams;
  const id = q.get('id') || '-';
  ws.on('error', (err) => process.stderr.write(`ws_server: ${u.pathname} ${id}: ${err.message}\n`));
  if (q.has('id')) {
    ws.on('close', (code, reason) => event(id, 'closed', code, reason.toString('hex') || '-'));
  }
  switch (u.pathname) {
    case '/echo':
      echo(ws);
      break;
    case '/count':
      ws.on('message', (data, isBinary) => {
        ws.send(`frames:-1 type:${isBinary ? 'binary' : 'text'} len:${data.length} sha256:${sha256(data)}`);
      });
      break;
    case '/fragmented': {
      const op = q.get('op');
      const data = payload(op, Number(q.get('size')));
      sendFragmented(ws, op, data, Number(q.get('chunks')));
      ws.send(`sha256:${sha256(data)} len:${data.length}`);
      echo(ws);
      break;
    }
    case '/ping': {
      const want = Buffer.from(q.get('payload') || '', 'hex');
      ws.on('pong', (got) => {
        ws.send(got.equals(want) ? 'pong-ok' : `pong-bad:${got.toString('hex')}`);
      });
      // RFC 6455 §5.5.3: an unsolicited pong is a heartbeat and needs no answer.
      ws.pong(Buffer.from('unsolicited'));
      ws.ping(want);
      echo(ws);
      break;
    }
    case '/close':
      ws.close(Number(q.get('code')), q.get('reason') || '');
      break;
    case '/goclose':
      echo(ws);
      break;
    case '/badutf8':
      // ws does not validate what it sends: a text frame that is not UTF-8.
      ws.send(Buffer.from([0x61, 0xff, 0xfe, 0x62]), { binary: false });
      echo(ws);
      break;
    case '/ext':
      ws.send(`ext:${deflateReport(ws)}`);
      echo(ws);
      break;
    case '/subproto':
      ws.send(`proto:${ws.protocol}`);
      echo(ws);
      break;
    default:
      ws.close(1008, `unknown path ${u.pathname}`);
  }
});

// The Go test kills the process; exit cleanly if stdin closes as well.
process.on('SIGTERM', () => process.exit(0));
