/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A managed interface: a name the user asked for, and the link that carries it now, if any.
 * ifindex is the identity of a link; its name is a label updated on RTM_NEWLINK. */
#pragma once

#include <stdbool.h>

#include "manager.h"
#include "rtnl.h"

struct Link {
        Manager *manager;
        Link *next;
        char *name;               /* the managed name */
        int ifindex;              /* 0 while no link has the name */
        unsigned short arphrd;
        bool attached;            /* the egress program is on it */
        int attach_error;         /* why the last attach to ifindex failed (-errno), 0 */
        unsigned seen;            /* dump generation that last reported it */
        uint64_t attached_usec;   /* CLOCK_MONOTONIC when it was last attached */
};

int link_new(Manager *m, const char *name, Link **ret);
/* Detaches (when attached) and removes it from the manager. */
Link *link_free(Link *l);

Link *manager_find_link(Manager *m, const char *name);
Link *manager_find_link_by_ifindex(Manager *m, int ifindex);
size_t manager_n_links(Manager *m);

/* Called for every rtnetlink link event and dump boundary. */
void manager_on_rtnl_link(void *userdata, const RtnlLink *link);
