#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Endpoints of the interception lab (tests/lib/lab.sh). Every transfer is bounded in time.

  labnet.py serve LOG                    world servers on [::] (dual stack): 80 HTTP, 7 and 8080
                                         echo, 9 digest, 10 resets after the first byte; appends
                                         "accept PORT PEER_IP PEER_PORT" to LOG for every
                                         connection, "reset PORT PEER_IP PEER_PORT" when one was
                                         reset by its peer; prints "ready"
  labnet.py echo HOST PORT SIZE          send SIZE pseudo-random bytes, half-close, read the echo
                                         until EOF; byte count and sha256 must match
  labnet.py digest HOST PORT SIZE        send SIZE bytes, half-close, then read the server's
                                         "COUNT SHA256" (sent only after our EOF arrived)
  labnet.py many HOST PORT COUNT SIZE    COUNT connections open at once, each an echo of SIZE
  labnet.py hold HOST PORT SECONDS MSG   connect, hold, then echo MSG (for MaxConnections=)
  labnet.py idle HOST PORT COUNT SECONDS COUNT connections, each echoes 100 bytes, then all stay
                                         idle for SECONDS (prints "idle" when they are)
  labnet.py tproxy                       "another program's" transparent listener on 127.0.0.1
                                         and ::1 port 15001: answers "tproxy DST_IP DST_PORT"
  labnet.py expect-reset HOST PORT       send a byte; the connection must end in a reset
  labnet.py send-reset HOST PORT         echo a few bytes, then close with a reset (linger 0)
Clients print "ok ..." with their local ports, or "FAIL ..." and exit 1.
"""
import asyncio
import hashlib
import os
import random
import socket
import struct
import sys
import time

CHUNK = 64 * 1024
TIMEOUT = 20
# servers exit by themselves after this, should a test fail to stop them (a soak sets it longer)
LIFETIME = int(os.environ.get("SKFP_LAB_LIFETIME", "900"))


def pattern_chunks(size, seed):
    rnd = random.Random(seed)
    left = size
    while left > 0:
        n = min(CHUNK, left)
        yield rnd.randbytes(n)
        left -= n


# ---------------------------------------------------------------- servers

def make_handler(port, log):
    async def handle(reader, writer):
        peer = writer.get_extra_info("peername")
        ip = peer[0]
        if ip.startswith("::ffff:"):
            ip = ip[7:]
        log.write(f"accept {port} {ip} {peer[1]}\n")
        log.flush()
        try:
            if port == 80:
                await serve_http(reader, writer, ip, peer[1])
            elif port == 9:
                await serve_digest(reader, writer)
            elif port == 10:
                await reader.read(1)
                writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                           struct.pack("ii", 1, 0))
                writer.transport.abort()
            else:
                await serve_echo(reader, writer)
        except ConnectionResetError:
            log.write(f"reset {port} {ip} {peer[1]}\n")
            log.flush()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
    return handle


async def serve_http(reader, writer, ip, port):
    await reader.readuntil(b"\r\n\r\n")
    body = f"hello from the world; you are {ip} port {port}\n".encode()
    writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    await writer.drain()


async def serve_echo(reader, writer):
    while True:
        data = await reader.read(CHUNK)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.write_eof()
    await writer.drain()


async def serve_digest(reader, writer):
    h = hashlib.sha256()
    n = 0
    while True:
        data = await reader.read(CHUNK)
        if not data:
            break
        h.update(data)
        n += len(data)
    # the answer goes out only after the client's FIN: a relay that does not pass half-close
    # on, or closes both ways at the first EOF, never delivers it
    await asyncio.sleep(0.2)
    writer.write(f"{n} {h.hexdigest()}\n".encode())
    await writer.drain()


async def serve(logpath):
    log = open(logpath, "a", buffering=1)
    servers = []
    for port in (80, 7, 9, 10, 8080):
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
        sock.listen(4096)
        # asyncio listens again with its own backlog (100 unless told): a burst of connections
        # then overflows into SYN cookies, and some handshakes end in resets
        servers.append(await asyncio.start_server(make_handler(port, log), sock=sock, limit=CHUNK,
                                                  backlog=4096))
    print("ready", flush=True)
    try:
        await asyncio.wait_for(asyncio.gather(*(s.serve_forever() for s in servers)), LIFETIME)
    except asyncio.TimeoutError:
        pass


# ---------------------------------------------------------------- clients

async def open_conn(host, port, timeout=TIMEOUT):
    return await asyncio.wait_for(asyncio.open_connection(host, port, limit=CHUNK), timeout)


def local_port(writer):
    return writer.get_extra_info("sockname")[1]


async def echo_stream(reader, writer, size, seed, timeout=TIMEOUT, half_close=True):
    """Sends SIZE bytes while reading the echo (to EOF after a half-close, else SIZE bytes);
    returns (bytes sent, bytes received), raises on any difference. Shared with soaknet.py."""
    sent = hashlib.sha256()

    async def send():
        for chunk in pattern_chunks(size, seed):
            sent.update(chunk)
            writer.write(chunk)
            await writer.drain()
        if half_close:
            writer.write_eof()

    async def recv():
        h = hashlib.sha256()
        n = 0
        while half_close or n < size:
            data = await reader.read(CHUNK if half_close else min(CHUNK, size - n))
            if not data:
                break
            h.update(data)
            n += len(data)
        return n, h

    _, (n, got) = await asyncio.wait_for(asyncio.gather(send(), recv()), timeout)
    if n != size or got.digest() != sent.digest():
        raise AssertionError(f"echo of {size} bytes came back as {n} bytes, sha256 "
                             f"{got.hexdigest()[:16]} instead of {sent.hexdigest()[:16]}")
    return size, n


async def echo_one(host, port, size, seed):
    reader, writer = await open_conn(host, port)
    lport = local_port(writer)
    try:
        await echo_stream(reader, writer, size, seed)
    finally:
        writer.close()
    return lport


async def send_pattern(writer, size, seed):
    """Sends SIZE bytes of the pattern SEED, then half-closes; returns their sha256 (hex). Shared
    with soaknet.py."""
    sent = hashlib.sha256()
    for chunk in pattern_chunks(size, seed):
        sent.update(chunk)
        writer.write(chunk)
        await writer.drain()
    writer.write_eof()
    return sent.hexdigest()


async def digest_one(host, port, size):
    reader, writer = await open_conn(host, port)
    lport = local_port(writer)
    digest = await send_pattern(writer, size, size)
    line = await asyncio.wait_for(reader.readline(), TIMEOUT)
    rest = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    want = f"{size} {digest}\n".encode()
    if line != want or rest:
        raise AssertionError(f"digest answer {line!r}{rest!r}, expected {want!r}")
    return lport


async def many(host, port, count, size):
    # every connection is open before any of them transfers: COUNT relayed connections at once
    conns = await asyncio.gather(*(open_conn(host, port) for _ in range(count)))
    barrier = time.monotonic()

    async def one(i, reader, writer):
        data = random.Random(i).randbytes(size)
        writer.write(data)
        writer.write_eof()
        got = await reader.read()
        writer.close()
        if got != data:
            raise AssertionError(f"connection {i}: {len(got)} bytes back, expected {size}")

    await asyncio.wait_for(asyncio.gather(*(one(i, r, w) for i, (r, w) in enumerate(conns))), TIMEOUT)
    return time.monotonic() - barrier


async def hold(host, port, seconds, msg):
    reader, writer = await open_conn(host, port)
    lport = local_port(writer)
    await asyncio.sleep(seconds)
    writer.write(msg.encode())
    writer.write_eof()
    got = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    return got.decode(), lport


async def idle(host, port, count, seconds):
    conns = await asyncio.gather(*(open_conn(host, port) for _ in range(count)))
    data = b"x" * 100
    for reader, writer in conns:
        writer.write(data)
    for reader, writer in conns:
        got = await asyncio.wait_for(reader.readexactly(len(data)), TIMEOUT)
        if got != data:
            raise AssertionError("bad echo")
    print("idle", flush=True)
    await asyncio.sleep(seconds)
    for reader, writer in conns:
        writer.close()


async def tproxy():
    async def handle(reader, writer):
        dst = writer.get_extra_info("sockname")
        ip = dst[0][7:] if dst[0].startswith("::ffff:") else dst[0]
        # read the request first: closing with unread data would reset the connection
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        writer.write(f"tproxy {ip} {dst[1]}\n".encode())
        await writer.drain()
        writer.close()

    servers = []
    for family, addr, level, opt in ((socket.AF_INET, "127.0.0.1", socket.SOL_IP, 19),
                                     (socket.AF_INET6, "::1", socket.IPPROTO_IPV6, 75)):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(level, opt, 1)   # IP_TRANSPARENT, IPV6_TRANSPARENT
        sock.bind((addr, 15001))
        sock.listen(128)
        servers.append(await asyncio.start_server(handle, sock=sock))
    print("ready", flush=True)
    try:
        await asyncio.wait_for(asyncio.gather(*(s.serve_forever() for s in servers)), LIFETIME)
    except asyncio.TimeoutError:
        pass


def connect_blocking(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect((host, port))
    return s


def expect_reset(host, port):
    t0 = time.monotonic()
    s = None
    try:
        # the reset may come before connect() returns (a refused upstream is that fast)
        s = connect_blocking(host, port)
        s.sendall(b"x")
        while True:
            data = s.recv(CHUNK)
            if not data:
                raise AssertionError("clean EOF instead of a reset")
    except ConnectionResetError:
        return time.monotonic() - t0
    finally:
        if s:
            s.close()


def send_reset(host, port):
    s = connect_blocking(host, port)
    lport = s.getsockname()[1]
    s.sendall(b"ping")
    got = b""
    while len(got) < 4:
        data = s.recv(4 - len(got))
        if not data:
            raise AssertionError("EOF before the echo")
        got += data
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return lport


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        if cmd == "serve":
            asyncio.run(serve(args[0]))
        elif cmd == "echo":
            lport = asyncio.run(echo_one(args[0], int(args[1]), int(args[2]), 1))
            print(f"ok echo {args[2]} bytes local_port {lport}")
        elif cmd == "digest":
            lport = asyncio.run(digest_one(args[0], int(args[1]), int(args[2])))
            print(f"ok digest {args[2]} bytes local_port {lport}")
        elif cmd == "many":
            dt = asyncio.run(many(args[0], int(args[1]), int(args[2]), int(args[3])))
            print(f"ok many {args[2]} connections of {args[3]} bytes in {dt:.2f}s")
        elif cmd == "hold":
            got, lport = asyncio.run(hold(args[0], int(args[1]), float(args[2]), args[3]))
            if got != args[3]:
                raise AssertionError(f"echo {got!r}, expected {args[3]!r}")
            print(f"ok hold {got} local_port {lport}")
        elif cmd == "idle":
            asyncio.run(idle(args[0], int(args[1]), int(args[2]), float(args[3])))
            print("ok idle")
        elif cmd == "tproxy":
            asyncio.run(tproxy())
        elif cmd == "expect-reset":
            dt = expect_reset(args[0], int(args[1]))
            print(f"ok reset after {dt:.2f}s")
        elif cmd == "send-reset":
            lport = send_reset(args[0], int(args[1]))
            print(f"ok sent reset local_port {lport}")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (AssertionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        print(f"FAIL {cmd} {' '.join(args)}: {type(e).__name__}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
