/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rtnetlink socket: link events and dumps, parsed into RtnlLink, on the sd-event loop. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

typedef struct Rtnl Rtnl;

typedef enum RtnlEventType {
        RTNL_LINK_NEW,       /* RTM_NEWLINK: appeared, changed or renamed */
        RTNL_LINK_DEL,       /* RTM_DELLINK */
        RTNL_DUMP_START,     /* a full dump was requested */
        RTNL_DUMP_DONE,      /* the dump requested last finished: links not reported since it began are gone */
        RTNL_REQUEST_FAILED, /* NLMSG_ERROR for one of our requests: error is set */
} RtnlEventType;

typedef struct RtnlLink {
        RtnlEventType type;
        int ifindex;
        unsigned short arphrd;   /* ifi_type: ARPHRD_ETHER, ARPHRD_NONE (tun, wireguard), ... */
        unsigned flags;          /* IFF_UP, ... */
        int error;               /* RTNL_REQUEST_FAILED: -errno */
        unsigned seq;            /* RTNL_DUMP_DONE, RTNL_REQUEST_FAILED: nlmsg_seq of the request */
        char name[IF_NAMESIZE];
} RtnlLink;

typedef void (*rtnl_handler_t)(void *userdata, const RtnlLink *link);

/* Parses one datagram of rtnetlink messages and calls handler for each link message and for the
 * end of a dump. Malformed messages are logged and skipped. Returns the number of messages
 * handled, or -EBADMSG when the datagram could not be walked at all. Safe on any input. */
int rtnl_parse(const void *buf, size_t len, rtnl_handler_t handler, void *userdata);

/* Subscribes to link events, then dumps the current links; both go through handler. */
int rtnl_new(Rtnl **ret, sd_event *event, rtnl_handler_t handler, void *userdata);
Rtnl *rtnl_free(Rtnl *r);
/* Asks for a full dump again (after lost events). */
int rtnl_resync(Rtnl *r);

/* What the socket's reader does (tests drive them directly): one datagram from the kernel; lost
 * events (ENOBUFS), answered with a new dump. rtnl_dump_seq(): the sequence number of the dump
 * whose end is awaited, 0 when none is. */
int rtnl_receive(Rtnl *r, const void *buf, size_t len);
void rtnl_overflowed(Rtnl *r);
unsigned rtnl_dump_seq(const Rtnl *r);

/* Asks the kernel synchronously for one link by name: -ENODEV when there is none. */
int rtnl_get_link(const char *name, RtnlLink *ret);
