#!/usr/bin/python3
# The two receiver hazards of sockmap redirection, shown on a local connection to PORT (run it in
# skfastpathd's cgroup with PORT managed): a receiver that moves data with splice() gets end of
# file without the data, and a blocking recv() after shutdown(SHUT_WR) fails with EAGAIN.
# README.md's troubleshooting section quotes its output; tests/integration/test-readme.sh runs it.
#   fastpath-hazards.py PORT
import errno
import os
import select
import socket
import struct
import sys
import threading
import time

TRIES = 20
port = int(sys.argv[1])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen()


def pair():
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    s, _ = listener.accept()
    # kernel-side timeouts keep the sockets blocking (Python's own timeouts would retry on EAGAIN
    # and hide the second hazard) and every wait bounded
    for sock in (c, s):
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 5, 0))
    return c, s


# 1. splice(): poll until readable, splice into a pipe, until end of file.
message = b"hello, fastpath\n"
c, s = pair()
c.sendall(message)
time.sleep(0.05)
c.close()
r, w = os.pipe()
total = 0
for _ in range(200):
    select.select([s], [], [], 1)
    try:
        n = os.splice(s.fileno(), w, 65536, flags=os.SPLICE_F_NONBLOCK)
    except BlockingIOError:
        time.sleep(0.005)
        continue
    if n == 0:
        break
    total += n
s.close()
print(f"splice receiver: {total} of {len(message)} bytes, then end of file")

# 2. A blocking recv() waiting for the answer after shutdown(SHUT_WR).
failures, first = 0, None
for _ in range(TRIES):
    c, s = pair()

    def serve(s=s):
        while s.recv(100):
            pass
        time.sleep(0.02)
        s.sendall(b"answer")
        s.close()

    t = threading.Thread(target=serve)
    t.start()
    c.sendall(b"question")
    c.shutdown(socket.SHUT_WR)
    start = time.monotonic()
    try:
        c.recv(100)
    except OSError as e:
        # EAGAIN after SO_RCVTIMEO is a timeout, not the hazard
        if e.errno != errno.EAGAIN or time.monotonic() - start > 4:
            raise
        failures += 1
        first = first or e
    t.join()
    c.close()
if first:
    print(f"blocking recv() after shutdown(SHUT_WR): {type(first).__name__}: {first}")
else:
    print(f"blocking recv() after shutdown(SHUT_WR): {TRIES} answers in {TRIES} tries")
print(f"(EAGAIN in {failures} of {TRIES} tries)")
