/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the upstream proxy's side of the handshake (upstream.c). The first byte picks
 * the proxy (SOCKS5 or HTTP, with or without credentials) and the destination family; the rest is
 * what the proxy answers, fed in pieces whose sizes come from the input too. Invariants: a result
 * is 0 (more), 1 (open) or a known failure; consumed never exceeds what was fed; nothing is taken
 * after the tunnel opened or a failure; what is queued to send stays within the buffer; and the
 * parsing and printing of URLs round-trips (the input's tail as a URL). */
#include <arpa/inet.h>
#include <string.h>

#include "fuzz.h"
#include "upstream.h"
#include "util.h"

static const char *const urls[] = {
        "socks5://127.0.0.1:1080",
        "socks5://alice:s3cret@[::1]:1080",
        "http://127.0.0.1:3128",
        "http://alice:s3cret@[::1]:3128",
};

static void check_url(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *s = strndup((const char *) data, size), *full = NULL, *shown = NULL;
        Upstream u = {}, v = {};
        const char *reason = NULL;
        int r;

        if (!s)
                return;
        r = upstream_parse(s, &u, &reason);
        ASSERT(r == 0 || (r == -EINVAL && reason));
        if (r == 0) {
                full = upstream_to_string(&u, false);
                shown = upstream_to_string(&u, true);
                ASSERT(full && shown);
                ASSERT(upstream_parse(full, &v, &reason) == 0);
                ASSERT(upstream_equal(&u, &v));
                /* the password is never shown: "***" in its place, the rest as in full */
                ASSERT(u.user ? strstr(shown, ":***@") != NULL : streq(shown, full));
        }
        upstream_done(&u);
        upstream_done(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static UpstreamHandshake h;
        struct sockaddr_storage dst = {};
        const char *reason;
        Upstream u = {};
        size_t off = 1;
        int r = 0;

        if (size < 2)
                return 0;
        check_url(data + 1, size - 1);

        ASSERT(upstream_parse(urls[data[0] & 3], &u, &reason) == 0);
        if (data[0] & 4) {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &dst;

                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(443);
                inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);
        } else {
                struct sockaddr_in *sin = (struct sockaddr_in *) &dst;

                sin->sin_family = AF_INET;
                sin->sin_port = htons(80);
                sin->sin_addr.s_addr = htonl(0xc0000201);
        }
        ASSERT(upstream_handshake_init(&h, &u, &dst) == 0);
        upstream_done(&u);

        while (off < size) {
                size_t piece = 1 + (data[off - 1] & 31), consumed = 0;

                if (piece > size - off)
                        piece = size - off;
                ASSERT(h.out_len <= sizeof(h.out) && h.out_sent <= h.out_len);
                h.out_sent = h.out_len;     /* sent */
                r = upstream_handshake_feed(&h, data + off, piece, &consumed);
                ASSERT(consumed <= piece);
                ASSERT(r == 0 || r == 1 || (r < 0 && -r - 1 < _UPSTREAM_FAILURE_MAX));
                ASSERT(h.in_len <= sizeof(h.in));
                if (r == 0)
                        ASSERT(consumed == piece);
                off += consumed;
                if (r != 0)
                        break;
        }
        if (r == 1) {
                size_t consumed = 1;

                /* open: takes nothing more */
                ASSERT(upstream_handshake_feed(&h, (const uint8_t *) "x", 1, &consumed) == 0 && consumed == 0);
        }
        return 0;
}
