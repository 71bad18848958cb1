/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where the relay sends a connection: straight to its original destination ("direct"), or through
 * a SOCKS5 (RFC 1928 CONNECT, RFC 1929 username/password) or HTTP/1.1 CONNECT (Basic) proxy.
 *
 * Upstream URLs: direct | socks5://[USER:PASSWORD@]HOST:PORT | http://[USER:PASSWORD@]HOST:PORT,
 * HOST an IPv4 address or a bracketed IPv6 address ([::1]). Host names are refused (the daemon
 * resolves nothing: a name would resolve through the proxy's own interception or block the loop).
 * USER and PASSWORD may carry %XX escapes (for ':', '@', '/'); each 1-255 bytes after decoding.
 *
 * The handshake is a pure state machine (no I/O): upstream_handshake_init() queues the first
 * request in h->out, upstream_handshake_feed() takes the proxy's bytes one by one as they come,
 * queues the next request when one is due, and says when the tunnel is open. It never takes a
 * byte past the end of the proxy's reply: what follows belongs to the client. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef enum UpstreamType {
        UPSTREAM_DIRECT,
        UPSTREAM_SOCKS5,
        UPSTREAM_HTTP,
} UpstreamType;

typedef enum UpstreamFallback {
        UPSTREAM_FALLBACK_REFUSE,   /* a failed upstream resets the client (default) */
        UPSTREAM_FALLBACK_DIRECT,   /* ... or connects it to its original destination */
} UpstreamFallback;

typedef struct Upstream {
        UpstreamType type;
        struct sockaddr_storage address;    /* the proxy; unset for UPSTREAM_DIRECT */
        socklen_t address_len;
        char *user;                 /* NULL: no authentication */
        char *password;
} Upstream;

/* Why a connection through an upstream failed: a counter each (GetStatistics) and a log line. */
typedef enum UpstreamFailure {
        UPSTREAM_FAILURE_UNREACHABLE,   /* connecting to the proxy failed (down, refused) */
        UPSTREAM_FAILURE_REFUSED,       /* the proxy refused to connect to the destination */
        UPSTREAM_FAILURE_AUTH,          /* authentication refused, or none acceptable */
        UPSTREAM_FAILURE_PROTOCOL,      /* an answer that is not the protocol, or a method not offered */
        UPSTREAM_FAILURE_TIMEOUT,       /* connect plus handshake longer than ConnectTimeoutSec= */
        _UPSTREAM_FAILURE_MAX,
} UpstreamFailure;

const char *upstream_failure_to_string(UpstreamFailure f);

/* Parses url into *ret (which must be zeroed or done). -EINVAL with *reason set (a static
 * string naming what is wrong), -ENOMEM. */
int upstream_parse(const char *url, Upstream *ret, const char **reason);
void upstream_done(Upstream *u);
int upstream_copy(Upstream *dst, const Upstream *src);
bool upstream_equal(const Upstream *a, const Upstream *b);
/* The URL again: with redact the password is "***" (for the bus and logs), else as given (with
 * %XX escapes, for the state file). NULL on ENOMEM. */
char *upstream_to_string(const Upstream *u, bool redact);

const char *upstream_fallback_to_string(UpstreamFallback f);
int upstream_fallback_from_string(const char *s);

#define UPSTREAM_HANDSHAKE_OUT_MAX 640
#define UPSTREAM_HANDSHAKE_IN_MAX 4096

typedef struct UpstreamHandshake {
        UpstreamType type;
        int step;
        uint8_t out[UPSTREAM_HANDSHAKE_OUT_MAX];    /* to send: out[out_sent..out_len) */
        size_t out_len, out_sent;
        uint8_t in[UPSTREAM_HANDSHAKE_IN_MAX];      /* the reply so far */
        size_t in_len;
        size_t want;                                /* SOCKS5: bytes the current reply has */
        struct sockaddr_storage dst;                /* SOCKS5: for the CONNECT, due later */
        char user[256], password[256];
        bool auth;
} UpstreamHandshake;

/* Prepares the handshake to open a tunnel to dst through u (not UPSTREAM_DIRECT). */
int upstream_handshake_init(UpstreamHandshake *h, const Upstream *u, const struct sockaddr_storage *dst);
/* Feeds n bytes the proxy sent; *consumed says how many were taken (the rest follow the reply and
 * are the client's). Returns 0: more is needed (send what h->out holds, then read), 1: the tunnel
 * is open, or -(1 + UpstreamFailure) on failure. */
int upstream_handshake_feed(UpstreamHandshake *h, const uint8_t *p, size_t n, size_t *consumed);
static inline bool upstream_handshake_has_output(const UpstreamHandshake *h)
{
        return h->out_sent < h->out_len;
}
