#!/usr/bin/python3
"""py_server.py: a WebSocket server built on Python's `websockets` (the asyncio
API of 10.x, as Debian ships it), started by the Go interop tests to play the
peer of a fullduplex client.

Usage: /usr/bin/python3 py_server.py '<json config>'
  config: {"compress": bool, "deflate": {...}, "subprotocols": ["a", "b"]}
  deflate: permessage-deflate settings in RFC 7692's parameter names
  (server_no_context_takeover, client_no_context_takeover: bool;
  server_max_window_bits, client_max_window_bits: 8-15); absent ones keep
  websockets' defaults, which for a server are 12 for both windows.

It speaks the same line protocol and URL paths as ws_server.js (see there):
"PORT <n>" first, then "EVENT <id> <kind> <args...>" lines. Unlike ws, this
library lets a protocol subclass see each frame, so /count reports the number
of frames the last message arrived in.
"""

import asyncio
import collections
import hashlib
import json
import os
import sys
import urllib.parse

import websockets
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Opcode
from websockets.legacy.server import WebSocketServerProtocol

CONFIG = json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}")
SERVER_PROTOCOLS = CONFIG.get("subprotocols") or []
PRINTABLE = bytes(0x20 + (i % 95) for i in range(256))
UTF8_CHARS = ["a", "é", "€", "😀", "z"]


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def event(ident, kind, *args):
    out(" ".join(["EVENT", ident, kind] + [str(a) for a in args]))


def payload(op, size):
    """Random bytes (binary), a random printable ASCII str (text), or a str
    of exactly size UTF-8 bytes mixing 1- to 4-byte characters (utf8)."""
    raw = os.urandom(size)
    if op == "binary":
        return raw
    if op == "text":
        return raw.translate(PRINTABLE).decode("ascii")
    parts, n = [], 0
    for i in range(size):
        if n >= size:
            break
        c = UTF8_CHARS[raw[i] % len(UTF8_CHARS)]
        if n + len(c.encode()) > size:
            c = "a"
        parts.append(c)
        n += len(c.encode())
    return "".join(parts)


def as_bytes(msg):
    return msg.encode() if isinstance(msg, str) else msg


def fragments(data, chunks):
    """Split data in chunks near-equal parts; str parts split between
    characters, as websockets sends each str item as its own frame."""
    step = max(1, -(-len(data) // chunks))
    return [data[i * step:(i + 1) * step] for i in range(chunks)]


def deflate_extensions():
    """The server's extensions: websockets' permessage-deflate with its
    defaults (those of compression="deflate") less what the config sets."""
    if not CONFIG.get("compress"):
        return None
    d = CONFIG.get("deflate") or {}
    return [ServerPerMessageDeflateFactory(
        server_no_context_takeover=bool(d.get("server_no_context_takeover")),
        client_no_context_takeover=bool(d.get("client_no_context_takeover")),
        server_max_window_bits=d.get("server_max_window_bits", 12),
        client_max_window_bits=d.get("client_max_window_bits", 12),
        compress_settings={"memLevel": 5},
    )]


def deflate_report(ws, is_server):
    """The permessage-deflate parameters in force, as ws_server.js's
    deflateReport prints them, or "none"."""
    for e in ws.extensions:
        if isinstance(e, PerMessageDeflate):
            mine = (e.local_no_context_takeover, e.local_max_window_bits)
            theirs = (e.remote_no_context_takeover, e.remote_max_window_bits)
            (snct, smwb), (cnct, cmwb) = (mine, theirs) if is_server else (theirs, mine)
            return f"snct={str(snct).lower()} cnct={str(cnct).lower()} smwb={smwb} cmwb={cmwb}"
    return "none"


class CountingProtocol(WebSocketServerProtocol):
    """Records how many frames each data message took, in order of arrival:
    websockets reads ahead of recv(), so each recv() pops one count."""

    frames = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frame_counts = collections.deque()

    async def read_frame(self, max_size):
        frame = await super().read_frame(max_size)
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.frames = 1
        elif frame.opcode == Opcode.CONT:
            self.frames += 1
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT) and frame.fin:
            self.frame_counts.append(self.frames)
        return frame


def select_subprotocol(client, server):
    # Server preference order: the first of ours the client also offers.
    for p in server:
        if p in client:
            return p
    return None


async def echo(ws):
    async for msg in ws:
        await ws.send(msg)


async def handler(ws):
    u = urllib.parse.urlsplit(ws.path)
    q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
    ident = q.get("id", "-")
    try:
        if u.path == "/echo":
            await echo(ws)
        elif u.path == "/count":
            async for msg in ws:
                b = as_bytes(msg)
                kind = "text" if isinstance(msg, str) else "binary"
                await ws.send(f"frames:{ws.frame_counts.popleft()} type:{kind} len:{len(b)} "
                              f"sha256:{hashlib.sha256(b).hexdigest()}")
        elif u.path == "/fragmented":
            data = payload(q["op"], int(q["size"]))
            await ws.send(fragments(data, int(q["chunks"])))
            b = as_bytes(data)
            await ws.send(f"sha256:{hashlib.sha256(b).hexdigest()} len:{len(b)}")
            await echo(ws)
        elif u.path == "/ping":
            want = bytes.fromhex(q.get("payload", ""))
            # RFC 6455 §5.5.3: an unsolicited pong is a heartbeat and needs no answer.
            await ws.pong(b"unsolicited")
            waiter = await ws.ping(want)
            try:
                # websockets resolves the waiter only for a pong whose payload
                # matches this ping, so a timeout means a wrong or missing pong.
                await asyncio.wait_for(waiter, 10)
                await ws.send("pong-ok")
            except asyncio.TimeoutError:
                await ws.send("pong-bad:timeout")
            await echo(ws)
        elif u.path == "/close":
            await ws.close(int(q["code"]), q.get("reason", ""))
        elif u.path == "/goclose":
            await echo(ws)
        elif u.path == "/ext":
            await ws.send("ext:" + deflate_report(ws, True))
            await echo(ws)
        elif u.path == "/subproto":
            await ws.send(f"proto:{ws.subprotocol or ''}")
            await echo(ws)
        else:
            await ws.close(1008, f"unknown path {u.path}")
    except websockets.ConnectionClosed:
        pass
    finally:
        if "id" in q:
            await ws.wait_closed()
            event(ident, "closed", ws.close_code, as_bytes(ws.close_reason or "").hex() or "-")


async def main():
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        create_protocol=CountingProtocol,
        compression=None,
        extensions=deflate_extensions(),
        subprotocols=SERVER_PROTOCOLS or None,
        select_subprotocol=select_subprotocol,
        max_size=64 << 20,
        ping_interval=None,
        close_timeout=5,
    ) as server:
        out(f"PORT {server.sockets[0].getsockname()[1]}")
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
