/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Synchronous rtnetlink over libmnl, for the rooms that ask the kernel and wait for its answer
 * (routing rules and routes, one link looked up by name). The asynchronous link monitor keeps its
 * own socket in the event loop. All return -errno; none logs. */
#pragma once

#include <sys/types.h>
#include <libmnl/libmnl.h>

/* A NETLINK_ROUTE socket (flags: SOCK_CLOEXEC, SOCK_NONBLOCK) bound to groups (0: none). */
int netlink_open(struct mnl_socket **ret, int flags, unsigned groups);

/* Starts a request in buf (MNL_SOCKET_BUFFER_SIZE bytes at least): the header, with type,
 * NLM_F_REQUEST | flags and seq. Returns it, for mnl_nlmsg_put_extra_header() and attributes. */
struct nlmsghdr *netlink_put_request(void *buf, uint16_t type, uint16_t flags, uint32_t seq);

/* Sends nlh, which asks for an ack (NLM_F_ACK), and waits for the ack of its sequence number.
 * Returns 0 or the kernel's -errno. */
int netlink_transact(struct mnl_socket *nl, const struct nlmsghdr *nlh);

/* Sends nlh and receives one datagram of the answer into buf. Returns its length or -errno. */
ssize_t netlink_request(struct mnl_socket *nl, const struct nlmsghdr *nlh, void *buf, size_t size);
