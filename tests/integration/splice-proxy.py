#!/usr/bin/python3
# A transparent proxy written the way Go proxies are (io.Copy between two TCP connections moves
# data with splice(2)): for skfastpathd with Relay=no. It accepts on the IP_TRANSPARENT listener
# 127.0.0.1 and [::1] at PORT, dials the original destination (getsockname) with SO_MARK = MARK
# (so that its own connection is not intercepted again) and splices both ways with blocking
# sockets, one thread per direction. Prints "ready" when it listens.
#   splice-proxy.py PORT MARK
import os
import socket
import sys
import threading

IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75
SO_MARK = 36
port, mark = int(sys.argv[1]), int(sys.argv[2], 0)


def copy(src, dst):
    r, w = os.pipe()
    try:
        while True:
            n = os.splice(src.fileno(), w, 65536)
            if n == 0:
                dst.shutdown(socket.SHUT_WR)
                return
            while n > 0:
                n -= os.splice(r, dst.fileno(), n)
    except OSError:
        pass
    finally:
        os.close(r)
        os.close(w)


def serve(client, family):
    up = socket.socket(family)
    up.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
    try:
        up.connect(client.getsockname()[:2])
    except OSError:
        client.close()
        up.close()
        return
    t = threading.Thread(target=copy, args=(up, client))
    t.start()
    copy(client, up)
    t.join()
    client.close()
    up.close()


def listen(family, addr):
    ls = socket.socket(family)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        ls.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    else:
        ls.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    ls.bind((addr, port))
    ls.listen(128)
    return ls


def accept_loop(ls, family):
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, family), daemon=True).start()


listeners = [(listen(socket.AF_INET, "127.0.0.1"), socket.AF_INET),
             (listen(socket.AF_INET6, "::1"), socket.AF_INET6)]
for ls, fam in listeners[1:]:
    threading.Thread(target=accept_loop, args=(ls, fam), daemon=True).start()
print("ready", flush=True)
accept_loop(*listeners[0])
