/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "socket-util.h"
#include "util.h"

const char *sockaddr_to_string(const struct sockaddr_storage *ss, char *buf, size_t n)
{
        char a[INET6_ADDRSTRLEN] = "?";

        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;

                inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
                snprintf(buf, n, "%s:%u", a, ntohs(sin->sin_port));
        } else if (ss->ss_family == AF_INET6) {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;

                inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
                snprintf(buf, n, "[%s]:%u", a, ntohs(sin6->sin6_port));
        } else
                snprintf(buf, n, "(family %u)", ss->ss_family);
        return buf;
}

void sockaddr_fold_v4mapped(struct sockaddr_storage *ss, socklen_t *len)
{
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
        struct sockaddr_in sin = { .sin_family = AF_INET };

        if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
                return;
        sin.sin_port = sin6->sin6_port;
        memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
        memset(ss, 0, sizeof(*ss));
        memcpy(ss, &sin, sizeof(sin));
        *len = sizeof(sin);
}

uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
        if (ss->ss_family == AF_INET)
                return ntohs(((const struct sockaddr_in *) ss)->sin_port);
        if (ss->ss_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *) ss)->sin6_port);
        return 0;
}

bool sockaddr_is_any(const struct sockaddr_storage *ss)
{
        if (ss->ss_family == AF_INET)
                return ((const struct sockaddr_in *) ss)->sin_addr.s_addr == htonl(INADDR_ANY);
        if (ss->ss_family == AF_INET6)
                return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *) ss)->sin6_addr);
        return false;
}

bool sockaddr_same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET)
                return ((const struct sockaddr_in *) a)->sin_addr.s_addr ==
                       ((const struct sockaddr_in *) b)->sin_addr.s_addr;
        if (a->ss_family == AF_INET6)
                return IN6_ARE_ADDR_EQUAL(&((const struct sockaddr_in6 *) a)->sin6_addr,
                                          &((const struct sockaddr_in6 *) b)->sin6_addr);
        return false;
}

bool socket_error_is_peer_lost(int error)
{
        switch (error) {
        case -ECONNRESET:
        case -EPIPE:
        case -ETIMEDOUT:
        case -EHOSTUNREACH:
        case -ENETUNREACH:
        case -EHOSTDOWN:
        case -ENETDOWN:
                return true;
        default:
                return false;
        }
}

void socket_set_linger_zero(int fd)
{
        struct linger l = { .l_onoff = 1, .l_linger = 0 };

        if (fd >= 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void close_many(int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                fds[i] = safe_close(fds[i]);
}
