/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "socket-util.h"
#include "upstream.h"
#include "util.h"

enum {
        STEP_SOCKS_METHOD,
        STEP_SOCKS_AUTH,
        STEP_SOCKS_REPLY,
        STEP_HTTP_REPLY,
        STEP_DONE,
};

static const char *const failure_names[_UPSTREAM_FAILURE_MAX] = {
        [UPSTREAM_FAILURE_UNREACHABLE] = "unreachable",
        [UPSTREAM_FAILURE_REFUSED] = "refused",
        [UPSTREAM_FAILURE_AUTH] = "auth-failed",
        [UPSTREAM_FAILURE_PROTOCOL] = "protocol-error",
        [UPSTREAM_FAILURE_TIMEOUT] = "timeout",
};

const char *upstream_failure_to_string(UpstreamFailure f)
{
        return f >= 0 && f < _UPSTREAM_FAILURE_MAX ? failure_names[f] : NULL;
}

const char *upstream_fallback_to_string(UpstreamFallback f)
{
        return f == UPSTREAM_FALLBACK_DIRECT ? "direct" : "refuse";
}

int upstream_fallback_from_string(const char *s)
{
        if (streq(s, "refuse"))
                return UPSTREAM_FALLBACK_REFUSE;
        if (streq(s, "direct"))
                return UPSTREAM_FALLBACK_DIRECT;
        return -EINVAL;
}

void upstream_done(Upstream *u)
{
        if (!u)
                return;
        if (u->password)
                explicit_bzero(u->password, strlen(u->password));
        free(u->user);
        free(u->password);
        *u = (Upstream) {};
}

static int unhex(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* [s, s + n) with %XX decoded into a new string of 1-255 bytes, no NUL. */
static int decode_credential(const char *s, size_t n, char **ret, const char **reason)
{
        _cleanup_free_ char *d = malloc(n + 1);
        size_t k = 0;

        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%') {
                        int hi = i + 2 < n ? unhex(s[i + 1]) : -1, lo = i + 2 < n ? unhex(s[i + 2]) : -1;

                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                                *reason = "a '%' in the user or password is not followed by two hex digits "
                                          "(or encodes NUL)";
                                return -EINVAL;
                        }
                        d[k++] = (char) (hi << 4 | lo);
                        i += 2;
                } else
                        d[k++] = s[i];
        }
        d[k] = 0;
        if (k == 0 || k > 255) {
                *reason = "the user and the password must each be 1 to 255 bytes";
                return -EINVAL;
        }
        *ret = TAKE_PTR(d);
        return 0;
}

int upstream_parse(const char *url, Upstream *ret, const char **reason)
{
        _cleanup_free_ char *user = NULL, *password = NULL, *host = NULL;
        Upstream u = {};
        const char *p, *at, *hostport, *colon, *end;
        uint16_t port;
        char portbuf[8];
        int r;

        if (streq(url, "direct")) {
                upstream_done(ret);
                return 0;
        }
        if (strncmp(url, "socks5://", 9) == 0) {
                u.type = UPSTREAM_SOCKS5;
                p = url + 9;
        } else if (strncmp(url, "http://", 7) == 0) {
                u.type = UPSTREAM_HTTP;
                p = url + 7;
        } else {
                *reason = "expected direct, socks5://[USER:PASSWORD@]HOST:PORT or http://[USER:PASSWORD@]HOST:PORT";
                return -EINVAL;
        }
        end = p + strlen(p);
        if (end > p && end[-1] == '/')
                end--;
        for (const char *q = p; q < end; q++)
                if ((unsigned char) *q <= ' ' || *q == 0x7f || *q == '/' || *q == '?' || *q == '#') {
                        *reason = "the URL has a path, a query, spaces or control characters";
                        return -EINVAL;
                }

        at = memrchr(p, '@', (size_t) (end - p));
        if (at) {
                colon = memchr(p, ':', (size_t) (at - p));
                if (!colon) {
                        *reason = "credentials must be USER:PASSWORD@";
                        return -EINVAL;
                }
                r = decode_credential(p, (size_t) (colon - p), &user, reason);
                if (r < 0)
                        return r;
                r = decode_credential(colon + 1, (size_t) (at - colon - 1), &password, reason);
                if (r < 0)
                        return r;
                hostport = at + 1;
        } else
                hostport = p;

        if (*hostport == '[') {
                const char *close = memchr(hostport, ']', (size_t) (end - hostport));
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &u.address;

                if (!close || close + 1 >= end || close[1] != ':') {
                        *reason = "an IPv6 address must be bracketed and followed by :PORT, as [::1]:1080";
                        return -EINVAL;
                }
                host = strndup(hostport + 1, (size_t) (close - hostport - 1));
                if (!host)
                        return -ENOMEM;
                if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
                        *reason = "not an IPv6 address between the brackets";
                        return -EINVAL;
                }
                sin6->sin6_family = AF_INET6;
                u.address_len = sizeof(struct sockaddr_in6);
                colon = close + 1;
        } else {
                struct sockaddr_in *sin = (struct sockaddr_in *) &u.address;

                colon = memrchr(hostport, ':', (size_t) (end - hostport));
                if (!colon) {
                        *reason = "the port is missing (HOST:PORT)";
                        return -EINVAL;
                }
                host = strndup(hostport, (size_t) (colon - hostport));
                if (!host)
                        return -ENOMEM;
                if (strchr(host, ':')) {
                        *reason = "an IPv6 address must be bracketed, as [::1]:1080";
                        return -EINVAL;
                }
                if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
                        *reason = "the host must be an IPv4 address or a bracketed IPv6 address; "
                                  "host names are not resolved";
                        return -EINVAL;
                }
                sin->sin_family = AF_INET;
                u.address_len = sizeof(struct sockaddr_in);
        }
        if ((size_t) (end - colon - 1) >= sizeof(portbuf) || end - colon - 1 == 0) {
                *reason = "expected a port from 1 to 65535";
                return -EINVAL;
        }
        memcpy(portbuf, colon + 1, (size_t) (end - colon - 1));
        portbuf[end - colon - 1] = 0;
        if (parse_port(portbuf, &port) < 0 || portbuf[0] < '0' || portbuf[0] > '9') {
                *reason = "expected a port from 1 to 65535";
                return -EINVAL;
        }
        if (u.address.ss_family == AF_INET)
                ((struct sockaddr_in *) &u.address)->sin_port = htons(port);
        else
                ((struct sockaddr_in6 *) &u.address)->sin6_port = htons(port);

        upstream_done(ret);
        *ret = u;
        ret->user = TAKE_PTR(user);
        ret->password = TAKE_PTR(password);
        return 0;
}

int upstream_copy(Upstream *dst, const Upstream *src)
{
        Upstream u = *src;

        u.user = u.password = NULL;
        if (src->user && !(u.user = strdup(src->user)))
                return -ENOMEM;
        if (src->password && !(u.password = strdup(src->password))) {
                free(u.user);
                return -ENOMEM;
        }
        upstream_done(dst);
        *dst = u;
        return 0;
}

bool upstream_equal(const Upstream *a, const Upstream *b)
{
        if (a->type != b->type)
                return false;
        if (a->type == UPSTREAM_DIRECT)
                return true;
        return a->address_len == b->address_len && memcmp(&a->address, &b->address, a->address_len) == 0 &&
               streq_ptr(a->user, b->user) && streq_ptr(a->password, b->password);
}

static void fputs_escaped(const char *s, FILE *f)
{
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || (unsigned char) *s >= 0x7f || strchr("%:@/?#[]", *s))
                        fprintf(f, "%%%02X", (unsigned char) *s);
                else
                        fputc(*s, f);
}

char *upstream_to_string(const Upstream *u, bool redact)
{
        char *buf = NULL, a[80];
        size_t size = 0;
        FILE *f;

        if (u->type == UPSTREAM_DIRECT)
                return strdup("direct");
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        fputs(u->type == UPSTREAM_SOCKS5 ? "socks5://" : "http://", f);
        if (u->user) {
                fputs_escaped(u->user, f);
                fputc(':', f);
                if (redact)
                        fputs("***", f);
                else
                        fputs_escaped(u->password, f);
                fputc('@', f);
        }
        fputs(sockaddr_to_string(&u->address, a, sizeof(a)), f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static void out_put(UpstreamHandshake *h, const void *p, size_t n)
{
        /* the requests are bounded: 3 + 513 (auth) or a few hundred bytes (HTTP) */
        memcpy(h->out + h->out_len, p, n);
        h->out_len += n;
}

static void out_reset(UpstreamHandshake *h)
{
        h->out_len = h->out_sent = 0;
}

static void base64_put(UpstreamHandshake *h, const uint8_t *s, size_t n)
{
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < n ? (uint32_t) s[i + 1] << 8 : 0) |
                             (i + 2 < n ? s[i + 2] : 0);
                char o[4] = {
                        tab[v >> 18 & 63], tab[v >> 12 & 63],
                        i + 1 < n ? tab[v >> 6 & 63] : '=',
                        i + 2 < n ? tab[v & 63] : '=',
                };
                out_put(h, o, 4);
        }
}

static void socks_queue_connect(UpstreamHandshake *h, const struct sockaddr_storage *dst)
{
        uint8_t req[4 + 16 + 2] = { 5, 1, 0 };
        size_t n;

        if (dst->ss_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *) dst;

                req[3] = 1;
                memcpy(req + 4, &sin->sin_addr, 4);
                memcpy(req + 8, &sin->sin_port, 2);
                n = 10;
        } else {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) dst;

                req[3] = 4;
                memcpy(req + 4, &sin6->sin6_addr, 16);
                memcpy(req + 20, &sin6->sin6_port, 2);
                n = 22;
        }
        out_put(h, req, n);
}

int upstream_handshake_init(UpstreamHandshake *h, const Upstream *u, const struct sockaddr_storage *dst)
{
        if (u->type == UPSTREAM_DIRECT || (dst->ss_family != AF_INET && dst->ss_family != AF_INET6))
                return -EINVAL;
        *h = (UpstreamHandshake) { .type = u->type };
        if (u->user) {
                if (strlen(u->user) > 255 || strlen(u->password) > 255)
                        return -EINVAL;
                h->auth = true;
                strcpy(h->user, u->user);
                strcpy(h->password, u->password);
        }

        if (u->type == UPSTREAM_SOCKS5) {
                /* offer what we can do: no authentication, and user/password when we have them */
                uint8_t greeting[4] = { 5, 1, 0 };

                if (h->auth) {
                        greeting[1] = 2;
                        greeting[3] = 2;
                }
                out_put(h, greeting, h->auth ? 4 : 3);
                h->step = STEP_SOCKS_METHOD;
                h->want = 2;
                h->dst = *dst;  /* the CONNECT is due after the greeting (and authentication) */
        } else {
                char a[80], line[200];
                int n;

                sockaddr_to_string(dst, a, sizeof(a));
                n = snprintf(line, sizeof(line), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", a, a);
                out_put(h, line, (size_t) n);
                if (h->auth) {
                        char cred[512];
                        int k = snprintf(cred, sizeof(cred), "%s:%s", h->user, h->password);

                        out_put(h, "Proxy-Authorization: Basic ", 27);
                        base64_put(h, (const uint8_t *) cred, (size_t) k);
                        out_put(h, "\r\n", 2);
                        explicit_bzero(cred, sizeof(cred));
                }
                out_put(h, "\r\n", 2);
                h->step = STEP_HTTP_REPLY;
        }
        return 0;
}

#define FAIL(f) (-(1 + (int) (f)))

static int socks_step(UpstreamHandshake *h)
{
        uint8_t *b = h->in;

        switch (h->step) {
        case STEP_SOCKS_METHOD:
                if (b[0] != 5)
                        return FAIL(UPSTREAM_FAILURE_PROTOCOL);
                out_reset(h);
                if (b[1] == 0xff)
                        return FAIL(UPSTREAM_FAILURE_AUTH);
                if (b[1] == 0) {
                        socks_queue_connect(h, &h->dst);
                        h->step = STEP_SOCKS_REPLY;
                        h->want = 4;
                } else if (b[1] == 2 && h->auth) {
                        uint8_t ul = (uint8_t) strlen(h->user), pl = (uint8_t) strlen(h->password);

                        out_put(h, &(uint8_t) { 1 }, 1);
                        out_put(h, &ul, 1);
                        out_put(h, h->user, ul);
                        out_put(h, &pl, 1);
                        out_put(h, h->password, pl);
                        h->step = STEP_SOCKS_AUTH;
                        h->want = 2;
                } else
                        return FAIL(UPSTREAM_FAILURE_PROTOCOL);   /* a method we did not offer */
                break;
        case STEP_SOCKS_AUTH:
                if (b[0] != 1)
                        return FAIL(UPSTREAM_FAILURE_PROTOCOL);
                out_reset(h);
                explicit_bzero(h->password, sizeof(h->password));
                if (b[1] != 0)
                        return FAIL(UPSTREAM_FAILURE_AUTH);
                socks_queue_connect(h, &h->dst);
                h->step = STEP_SOCKS_REPLY;
                h->want = 4;
                break;
        case STEP_SOCKS_REPLY:
                if (b[0] != 5)
                        return FAIL(UPSTREAM_FAILURE_PROTOCOL);
                if (b[1] != 0)
                        return b[1] <= 8 ? FAIL(UPSTREAM_FAILURE_REFUSED) : FAIL(UPSTREAM_FAILURE_PROTOCOL);
                if (b[2] != 0)
                        return FAIL(UPSTREAM_FAILURE_PROTOCOL);
                if (h->want == 4) {
                        out_reset(h);
                        switch (b[3]) {
                        case 1:
                                h->want = 4 + 4 + 2;
                                return 0;
                        case 4:
                                h->want = 4 + 16 + 2;
                                return 0;
                        case 3:
                                h->want = 5;
                                return 0;
                        default:
                                return FAIL(UPSTREAM_FAILURE_PROTOCOL);
                        }
                }
                if (h->want == 5 && b[3] == 3) {
                        if (b[4] == 0)
                                return FAIL(UPSTREAM_FAILURE_PROTOCOL);
                        h->want = 5 + b[4] + 2;
                        return 0;
                }
                h->step = STEP_DONE;
                return 1;
        }
        h->in_len = 0;
        return 0;
}

static int http_reply(UpstreamHandshake *h)
{
        const char *b = (const char *) h->in;
        int status;

        out_reset(h);
        explicit_bzero(h->password, sizeof(h->password));
        if (h->in_len < 13 || strncmp(b, "HTTP/1.", 7) != 0 || (b[7] != '0' && b[7] != '1') || b[8] != ' ')
                return FAIL(UPSTREAM_FAILURE_PROTOCOL);
        for (int i = 9; i < 12; i++)
                if (b[i] < '0' || b[i] > '9')
                        return FAIL(UPSTREAM_FAILURE_PROTOCOL);
        if (b[12] != ' ' && b[12] != '\r')
                return FAIL(UPSTREAM_FAILURE_PROTOCOL);
        status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
        if (status >= 200 && status < 300) {
                h->step = STEP_DONE;
                return 1;
        }
        /* 407 is the standard answer; tinyproxy 1.11 answers 401 */
        if (status == 407 || status == 401)
                return FAIL(UPSTREAM_FAILURE_AUTH);
        if (status >= 400 && status < 600)
                return FAIL(UPSTREAM_FAILURE_REFUSED);
        return FAIL(UPSTREAM_FAILURE_PROTOCOL);
}

int upstream_handshake_feed(UpstreamHandshake *h, const uint8_t *p, size_t n, size_t *consumed)
{
        size_t i;
        int r = 0;

        for (i = 0; i < n && r == 0; i++) {
                if (h->step == STEP_DONE)
                        break;
                if (h->step == STEP_HTTP_REPLY) {
                        if (h->in_len >= UPSTREAM_HANDSHAKE_IN_MAX) {
                                r = FAIL(UPSTREAM_FAILURE_PROTOCOL);
                                break;
                        }
                        h->in[h->in_len++] = p[i];
                        if (h->in_len == 1 && p[i] != 'H')
                                r = FAIL(UPSTREAM_FAILURE_PROTOCOL);    /* not HTTP at all: fail early */
                        else if (h->in_len >= 4 && memcmp(h->in + h->in_len - 4, "\r\n\r\n", 4) == 0)
                                r = http_reply(h);
                        continue;
                }
                h->in[h->in_len++] = p[i];
                if (h->in_len >= h->want)
                        r = socks_step(h);
                else if (h->step == STEP_SOCKS_REPLY && h->in_len == 2 && (h->in[0] != 5 || h->in[1] != 0))
                        r = socks_step(h);  /* a refusal needs no more bytes */
        }
        *consumed = i;
        return r;
}
