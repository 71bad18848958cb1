/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small socket helpers: over struct sockaddr_storage holding an AF_INET or AF_INET6 address (any
 * other family is "no port", "not any" and "not the same"), and over socket fds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "a.b.c.d:port", "[v6]:port" or "(family N)" in buf (INET6_ADDRSTRLEN + 8 is enough); returns buf. */
const char *sockaddr_to_string(const struct sockaddr_storage *ss, char *buf, size_t n);
/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: rewrites them as AF_INET (and *len). */
void sockaddr_fold_v4mapped(struct sockaddr_storage *ss, socklen_t *len);
/* Host byte order; 0 for other families. */
uint16_t sockaddr_port(const struct sockaddr_storage *ss);
/* 0.0.0.0 or :: */
bool sockaddr_is_any(const struct sockaddr_storage *ss);
/* Same family and address; ports are not compared. */
bool sockaddr_same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* An established connection's error that means the peer is gone, not that the relay failed: a
 * reset, a broken pipe, or a keepalive or retransmission timeout. Those timeouts report the last
 * ICMP or routing error seen (EHOSTUNREACH, ENETUNREACH, ...) instead of ETIMEDOUT when there was
 * one (the kernel's tcp_write_err() reports sk_err_soft): a client whose link was deleted is lost
 * that way. `error` is a negative errno. */
bool socket_error_is_peer_lost(int error);

/* close() then sends a reset instead of a FIN (SO_LINGER 0). A negative fd is ignored. */
void socket_set_linger_zero(int fd);
/* Closes fds[0..n) and sets them to -EBADF. */
void close_many(int *fds, size_t n);
