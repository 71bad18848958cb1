/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Link tracking: the managed interface names, and the link that carries each one now, if any.
 * ifindex is the identity of a link; its name is a label updated on RTM_NEWLINK.
 *
 * Fed with rtnetlink events (rtnl.h), a LinkSet decides what to attach and detach, asks its owner
 * to do it (LinkOps), and returns what changed: telling anyone (PropertiesChanged) is for the
 * caller to decide. It knows nothing of the manager, so unit tests drive it with RtnlLink events. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtnl.h"

typedef struct Link {
        struct Link *next;
        char *name;               /* the managed name */
        int ifindex;              /* 0 while no link has the name */
        unsigned short arphrd;
        bool attached;            /* the egress program is on it */
        int attach_error;         /* why the last attach to ifindex failed (-errno), 0 */
        unsigned seen;            /* dump generation that last reported it */
        uint64_t attached_usec;   /* CLOCK_MONOTONIC when it was last attached */
} Link;

/* What link tracking asks of its owner (interception, intercept.h). attach == NULL: links are
 * only tracked, never attached. */
typedef struct LinkOps {
        /* Attach the egress program: >= 0 attached, -ENODEV the link is gone, other -errno refused. */
        int (*attach)(void *userdata, int ifindex, unsigned short arphrd);
        /* Detach; a link that is gone already is not an error. */
        int (*detach)(void *userdata, int ifindex);
        /* Whether the program attached to ifindex is still in the kernel: false once the link that
         * had the ifindex was deleted, even if a new link has the ifindex now. */
        bool (*is_live)(void *userdata, int ifindex);
} LinkOps;

typedef struct LinkSet LinkSet;

/* ops is kept (static storage); userdata is passed to every op. */
int link_set_new(LinkSet **ret, const LinkOps *ops, void *userdata);
/* Detaches every attached link. */
LinkSet *link_set_free(LinkSet *s);

/* A managed name, in the order of addition (the Interfaces property lists them so); absent until
 * an event reports a link with the name. -EEXIST when managed already. */
int link_set_add(LinkSet *s, const char *name, Link **ret);
/* Detaches (when attached) and forgets it; -ENOENT when not managed. */
int link_set_remove(LinkSet *s, const char *name);

Link *link_set_find(const LinkSet *s, const char *name);
Link *link_set_find_by_ifindex(const LinkSet *s, int ifindex);
Link *link_set_first(const LinkSet *s);   /* then l->next */
size_t link_set_size(const LinkSet *s);

/* Handles one rtnetlink event or dump boundary: a managed name found (attach), lost (deleted,
 * renamed away, moved to another namespace: detach), moved to another link, or a link created
 * again with the same name and ifindex. Returns the number of managed interfaces whose ifindex or
 * attachment changed (0: nothing to tell). */
int link_set_handle(LinkSet *s, const RtnlLink *ev);
