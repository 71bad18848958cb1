#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Clients of the load and soak tests (tests/soak), run in the lab's client namespace against the
world servers of tests/lib/labnet.py. Every wait is bounded in time.

  soaknet.py load GO_FILE PORT COUNT HOST...
      COUNT connections to HOST:PORT (round robin over the hosts), each echoes a 12-byte hello,
      so that all COUNT are relayed at once; prints "held COUNT"; waits (at most 300 s) for
      GO_FILE to exist; then every connection echoes a payload of its own size (1 B to 256 KiB)
      both ways at once, half-closes and reads to EOF; sha256 and length are checked on each.
      Prints "ok load ..." and a "result {json}" line with the totals.
  soaknet.py soak ARGS...      the soak driver, see soak_main() (--help)
"""
import argparse
import asyncio
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import time

CHUNK = 64 * 1024
TIMEOUT = 60


def payload_chunks(size, seed):
    rnd = random.Random(seed)
    left = size
    while left > 0:
        n = min(CHUNK, left)
        yield rnd.randbytes(n)
        left -= n


async def open_conn(host, port, timeout=TIMEOUT):
    return await asyncio.wait_for(asyncio.open_connection(host, port, limit=CHUNK), timeout)


async def echo_stream(reader, writer, size, seed, timeout=TIMEOUT, half_close=True):
    """Sends SIZE bytes while reading the echo; returns (bytes sent, bytes received), raises on
    any difference."""
    sent = hashlib.sha256()

    async def send():
        for chunk in payload_chunks(size, seed):
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


# ---------------------------------------------------------------- load

def load_size(i):
    """1% of the connections 256 KiB, 9% 32 KiB, the rest 1 B to 4 KiB."""
    if i % 100 == 0:
        return 256 * 1024
    if i % 10 == 0:
        return 32 * 1024
    return 1 + random.Random(i).randrange(4096)


async def load(go_file, port, count, hosts):
    sem = asyncio.Semaphore(200)    # connects in flight: keeps every accept queue short
    conns = [None] * count
    t0 = time.monotonic()

    async def open_one(i):
        async with sem:
            reader, writer = await open_conn(hosts[i % len(hosts)], port)
            hello = b"hello %05d\n" % i
            writer.write(hello)
            got = await asyncio.wait_for(reader.readexactly(len(hello)), TIMEOUT)
            if got != hello:
                raise AssertionError(f"connection {i}: hello came back as {got!r}")
            conns[i] = (reader, writer)

    await asyncio.gather(*(open_one(i) for i in range(count)))
    t_open = time.monotonic() - t0
    print(f"held {count} in {t_open:.1f}s", flush=True)

    deadline = time.monotonic() + 300
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            raise AssertionError(f"{go_file} did not appear within 300 s")
        await asyncio.sleep(0.1)

    t1 = time.monotonic()
    total = 0

    async def one(i):
        nonlocal total
        reader, writer = conns[i]
        size = load_size(i)
        await echo_stream(reader, writer, size, i, timeout=240)
        total += size
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(one(i) for i in range(count)))
    t_xfer = time.monotonic() - t1
    hello_bytes = count * 12
    result = {"connections": count, "bytes_each_way": total + hello_bytes, "payload": total,
              "open_seconds": round(t_open, 2), "transfer_seconds": round(t_xfer, 2)}
    print(f"ok load {count} connections, {total + hello_bytes} bytes each way, sha256 verified "
          f"(opened in {t_open:.1f}s, transferred in {t_xfer:.1f}s)")
    print("result " + json.dumps(result), flush=True)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "soak":
        return soak_main(args)
    try:
        if cmd == "load":
            asyncio.run(load(args[0], int(args[1]), int(args[2]), args[3:]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (AssertionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        print(f"FAIL {cmd}: {type(e).__name__}: {e}", flush=True)
        return 1
    return 0


def soak_main(args):
    raise NotImplementedError


if __name__ == "__main__":
    sys.exit(main())
