#!/usr/bin/python3
"""py_client.py: a WebSocket client built on Python's `websockets` (the asyncio
API of 10.x, as Debian ships it), started by the Go interop tests to play the
peer of a fullduplex server. It runs one scripted exchange and exits 0, or
prints what did not match on stderr and exits 1.

Usage: /usr/bin/python3 py_client.py '<json config>'
  config: {"url": "ws://127.0.0.1:<port>", "scenario": "<name>",
           "compress": bool, "deflate": {...}, ...scenario parameters}
  (compress and deflate as in py_server.py; a client's window defaults are
  no server_max_window_bits and a bare client_max_window_bits)

The scenarios are those of ws_client.js (see there). In addition this library
lets a protocol subclass see each frame, so "fragments" checks that a message
the Go side streams through NextWriter in several writes arrives in several
frames.
"""

import asyncio
import collections
import hashlib
import json
import os
import re
import sys
import urllib.parse

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
)
from websockets.frames import Opcode
from websockets.legacy.client import WebSocketClientProtocol

CONFIG = json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}")
TIMEOUT = 30
PRINTABLE = bytes(0x20 + (i % 95) for i in range(256))


class Mismatch(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Mismatch(msg)


def random_payload(op, size):
    raw = os.urandom(size)
    return raw if op == "binary" else raw.translate(PRINTABLE).decode("ascii")


def as_bytes(msg):
    return msg.encode() if isinstance(msg, str) else msg


class CountingProtocol(WebSocketClientProtocol):
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


def deflate_extensions():
    """The client's extensions: websockets' permessage-deflate with its
    defaults (those of compression="deflate") less what the config sets."""
    if not CONFIG.get("compress"):
        return None
    d = CONFIG.get("deflate") or {}
    return [ClientPerMessageDeflateFactory(
        server_no_context_takeover=bool(d.get("server_no_context_takeover")),
        client_no_context_takeover=bool(d.get("client_no_context_takeover")),
        server_max_window_bits=d.get("server_max_window_bits"),
        client_max_window_bits=d.get("client_max_window_bits", True),
        compress_settings={"memLevel": 5},
    )]


def deflate_report(ws):
    """The permessage-deflate parameters in force, as py_server.py prints
    them, or "none"."""
    for e in ws.extensions:
        if isinstance(e, PerMessageDeflate):
            return (f"snct={str(e.remote_no_context_takeover).lower()} "
                    f"cnct={str(e.local_no_context_takeover).lower()} "
                    f"smwb={e.remote_max_window_bits} cmwb={e.local_max_window_bits}")
    return "none"


def connect(path, subprotocols=None):
    return websockets.connect(
        CONFIG["url"] + path,
        create_protocol=CountingProtocol,
        compression=None,
        extensions=deflate_extensions(),
        subprotocols=subprotocols,
        max_size=64 << 20,
        ping_interval=None,
        open_timeout=10,
        close_timeout=10,
    )


async def recv(ws, what):
    try:
        return await asyncio.wait_for(ws.recv(), TIMEOUT)
    except asyncio.TimeoutError:
        raise Mismatch(f"timeout waiting for {what}")
    except websockets.ConnectionClosed as e:
        raise Mismatch(f"{what}: connection closed: {e}")


async def close_normally(ws):
    await ws.close(1000, "done")
    check(ws.close_code != 1006, "closing handshake did not complete (1006)")


async def expect_echo(ws, what, data):
    got = await recv(ws, f"echo of {what}")
    check(type(got) is type(data),
          f"{what}: echo came back as {'text' if isinstance(got, str) else 'binary'}")
    check(len(as_bytes(got)) == len(as_bytes(data)),
          f"{what}: echo has {len(as_bytes(got))} bytes, want {len(as_bytes(data))}")
    check(got == data, f"{what}: echo differs from what was sent")


async def ping(ws, data, what):
    waiter = await ws.ping(data)
    try:
        # websockets resolves the waiter only on a pong with this payload.
        await asyncio.wait_for(waiter, TIMEOUT)
    except asyncio.TimeoutError:
        raise Mismatch(f"no pong with payload {data.hex()!r} for {what}")


async def sizes():
    async with connect(CONFIG.get("echo_path", "/echo")) as ws:
        if "expect_deflate" in CONFIG:
            got = deflate_report(ws)
            check(re.fullmatch(CONFIG["expect_deflate"], got),
                  f"permessage-deflate in force: {got}, want {CONFIG['expect_deflate']}")
        for op in ("text", "binary"):
            for size in CONFIG["sizes"]:
                data = random_payload(op, size)
                await ws.send(data)
                await expect_echo(ws, f"{op} {size} B", data)
        for size in CONFIG.get("compressible", []):
            text = ("fullduplex compresses this line well. " * (size // 38 + 1))[:size]
            for data in (text, text.encode()):
                await ws.send(data)
                await expect_echo(ws, f"compressible {type(data).__name__} {size} B", data)
        await close_normally(ws)


async def utf8():
    async with connect("/echo") as ws:
        for t in ["é", "€uro", "smile 😀", "mixed: aé€😀z" * 1000]:
            await ws.send(t)
            await expect_echo(ws, f"text {t[:16]!r}", t)
            if len(t) <= 64:
                # One character per frame (websockets cannot split inside one).
                await ws.send(list(t))
                await expect_echo(ws, f"char-fragmented {t!r}", t)
        await close_normally(ws)


async def fragments():
    async with connect("/echo") as ws:
        for op in ("text", "binary"):
            for size, chunks in CONFIG["fragments"]:
                what = f"{op} {size} B in {chunks} fragments"
                data = random_payload(op, size)
                step = max(1, -(-size // chunks))
                parts = [data[i * step:(i + 1) * step] for i in range(chunks)]
                pinged = []

                async def gen():
                    for i, p in enumerate(parts):
                        yield p
                        if i == 0 and chunks > 1:
                            # RFC 6455 §5.4: control frames may be injected
                            # between fragments; this pong is awaited below.
                            pinged.append(await ws.ping(f"mid {what}".encode()))

                await ws.send(gen())
                await expect_echo(ws, what, data)
                for waiter in pinged:
                    try:
                        await asyncio.wait_for(waiter, TIMEOUT)
                    except asyncio.TimeoutError:
                        raise Mismatch(f"{what}: no pong to the ping between fragments")
        await close_normally(ws)
    for op in ("text", "binary"):
        for size, chunks in CONFIG["fragments"]:
            what = f"Go-streamed {op} {size} B in {chunks} writes"
            q = urllib.parse.urlencode({"op": op, "size": size, "chunks": chunks})
            async with connect(f"/fragmented?{q}") as ws:
                msg = await recv(ws, what)
                frames = ws.frame_counts.popleft()
                digest = await recv(ws, f"digest after {what}")
                check(isinstance(msg, str) == (op == "text"),
                      f"{what}: arrived as {'text' if isinstance(msg, str) else 'binary'}")
                b = as_bytes(msg)
                got = f"sha256:{hashlib.sha256(b).hexdigest()} len:{len(b)}"
                check(got == digest, f"{what}: got {got}, Go sent {digest}")
                if chunks > 1 and size >= CONFIG.get("min_fragmented_size", 1 << 62):
                    check(frames >= 2, f"{what}: arrived in {frames} frame(s), want several")
                await close_normally(ws)


async def ping_scenario():
    async with connect("/ping") as ws:
        for h in CONFIG["payloads"]:
            await ping(ws, bytes.fromhex(h), f"ping {h!r}")
        msg = await recv(ws, "ping-done")
        check(msg == "ping-done", f"want ping-done, got {msg!r}")
        await close_normally(ws)


async def close_one(code):
    reason = CONFIG["reasons"][str(code)]
    async with connect(f"/close?code={code}") as ws:
        await ws.close(code, reason)
        check(ws.close_code != 1006, f"close {code}: closing handshake did not complete (1006)")


async def goclose_one(code):
    want = CONFIG["reasons"][str(code)]
    async with connect(f"/goclose?code={code}") as ws:
        try:
            msg = await asyncio.wait_for(ws.recv(), TIMEOUT)
            raise Mismatch(f"Go close {code}: got message {msg!r} instead of close")
        except websockets.ConnectionClosed as e:
            rcvd = e.rcvd
        except asyncio.TimeoutError:
            raise Mismatch(f"Go close {code}: timeout")
        check(rcvd is not None, f"Go close {code}: no close frame received")
        check(rcvd.code == code, f"Go closed with {code}, websockets saw {rcvd.code}")
        check(rcvd.reason == want,
              f"Go closed {code} with reason {want!r}, websockets saw {rcvd.reason!r}")


async def subproto():
    q = urllib.parse.urlencode({"server": ",".join(CONFIG["server"])})
    async with connect(f"/subproto?{q}", subprotocols=CONFIG["offer"] or None) as ws:
        got = ws.subprotocol or ""
        check(got == CONFIG["expect"], f"negotiated {got!r}, want {CONFIG['expect']!r}")
        msg = await recv(ws, "proto report")
        check(msg == f"proto:{CONFIG['expect']}", f"Go reported {msg!r}")
        await close_normally(ws)


async def fail():
    for c in CONFIG["cases"]:
        what = f"{c['kind']} {c.get('op', '')} {c.get('size', '')} B in {c.get('chunks', 1)} frame(s)"
        check(c["kind"] == "toobig", f"{what}: websockets cannot send this")
        async with connect(f"/expectfail?limit={c['limit']}") as ws:
            data = random_payload(c["op"], c["size"])
            try:
                # The Go side may close before the last frames are sent.
                if c["chunks"] > 1:
                    step = -(-c["size"] // c["chunks"])
                    await ws.send([data[i * step:(i + 1) * step] for i in range(c["chunks"])])
                else:
                    await ws.send(data)
                msg = await asyncio.wait_for(ws.recv(), TIMEOUT)
                raise Mismatch(f"{what}: got message {msg!r} instead of a close")
            except websockets.ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd else 1006
            except asyncio.TimeoutError:
                raise Mismatch(f"{what}: no close within {TIMEOUT}s")
            check(code == c["want_code"], f"{what}: Go closed with {code}, want {c['want_code']}")


SCENARIOS = {
    "fail": fail,
    "sizes": sizes,
    "utf8": utf8,
    "fragments": fragments,
    "ping": ping_scenario,
    "close": lambda: asyncio.gather(*(close_one(c) for c in CONFIG["codes"])),
    "goclose": lambda: asyncio.gather(*(goclose_one(c) for c in CONFIG["codes"])),
    "subproto": subproto,
}


async def main():
    await asyncio.wait_for(SCENARIOS[CONFIG["scenario"]](), 120)


if __name__ == "__main__":
    if CONFIG.get("scenario") not in SCENARIOS:
        print(f"py_client: unknown scenario {CONFIG.get('scenario')}", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(main())
    except Mismatch as e:
        print(f"py_client: {CONFIG['scenario']}: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # handshake failures, protocol errors, timeouts
        print(f"py_client: {CONFIG['scenario']}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
