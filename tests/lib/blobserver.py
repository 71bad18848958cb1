#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A world server for transfers through proxies that end both directions at the first EOF (no
half-close): HTTP/1.1 on port PORT of every address (IPv4 and IPv6). GET sends 64 MiB of a known
pattern (its sha256 is printed by "blobserver.py sha256"; "blobserver.py write FILE" writes it), POST
answers "SHA256 PEER_IP" of its body. Prints "ready"; exits by itself after 10 minutes.

  blobserver.py serve PORT
  blobserver.py sha256
  blobserver.py write FILE
"""
import hashlib, http.server, socket, socketserver, sys, threading

SIZE = 64 << 20
CHUNK = bytes((i * 7 + i // 251) & 0xff for i in range(1 << 20))

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        sys.stderr.write("%s %s\n" % (self.client_address[0], self.requestline))
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        for _ in range(SIZE // len(CHUNK)):
            self.wfile.write(CHUNK)
    def do_POST(self):
        n = int(self.headers["Content-Length"])
        h = hashlib.sha256()
        while n:
            d = self.rfile.read(min(n, 1 << 20))
            if not d:
                break
            h.update(d)
            n -= len(d)
        body = (h.hexdigest() + " " + self.client_address[0] + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

class S4(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
class S6(S4):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def main():
    if sys.argv[1] == "sha256":
        h = hashlib.sha256()
        for _ in range(SIZE // len(CHUNK)):
            h.update(CHUNK)
        print(h.hexdigest())
        return
    if sys.argv[1] == "write":
        with open(sys.argv[2], "wb") as f:
            for _ in range(SIZE // len(CHUNK)):
                f.write(CHUNK)
        return
    for cls, addr in ((S4, "0.0.0.0"), (S6, "::")):
        s = cls((addr, int(sys.argv[2])), H)
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait(600)


main()
