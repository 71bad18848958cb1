/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <time.h>

#include "intercept.h"
#include "link.h"
#include "util.h"

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int link_new(Manager *m, const char *name, Link **ret)
{
        Link *l, **tail;

        l = calloc(1, sizeof(Link));
        if (!l)
                return -ENOMEM;
        l->name = strdup(name);
        if (!l->name) {
                free(l);
                return -ENOMEM;
        }
        l->manager = m;
        /* keep the order of addition: the Interfaces property lists them so */
        for (tail = &m->links; *tail; tail = &(*tail)->next)
                ;
        *tail = l;
        if (ret)
                *ret = l;
        return 0;
}

static void link_detach(Link *l)
{
        if (l->attached && l->manager->intercept) {
                int r = intercept_detach(l->manager->intercept, l->ifindex);

                if (r < 0)
                        log_warning_errno(r, "%s: failed to detach from ifindex %d, ignoring: %m", l->name,
                                l->ifindex);
        }
        l->attached = false;
}

/* The link is gone or no longer carries the name. */
static void link_lost(Link *l, const char *why)
{
        if (l->ifindex == 0)
                return;
        log_info("%s: %s (ifindex %d)%s.", l->name, why, l->ifindex,
                 l->attached ? ", interception detached" : "");
        link_detach(l);
        l->ifindex = 0;
        l->arphrd = 0;
        l->attach_error = 0;
        manager_emit_interfaces_changed(l->manager);
}

static void link_found(Link *l, int ifindex, unsigned short arphrd)
{
        Manager *m = l->manager;
        uint64_t t;
        int r = 0;

        if (l->ifindex == ifindex && l->arphrd == arphrd && (l->attached || !m->intercept)) {
                if (!l->attached || intercept_is_live(m->intercept, ifindex))
                        return;
                /* Deleted and created again with the same name and ifindex while we lost the events:
                 * the kernel took our program away with the old link. */
                log_info("%s: ifindex %d is a new link, attaching again.", l->name, ifindex);
                link_detach(l);
        }
        if (l->ifindex != 0 && l->ifindex != ifindex)
                link_lost(l, "name moved to another link");
        if (l->ifindex == ifindex && l->arphrd != arphrd)
                link_detach(l);   /* the link type decides the program variant */

        t = now_usec();
        if (m->intercept)
                r = intercept_attach(m->intercept, ifindex, arphrd);
        if (r == -ENODEV) {
                /* removed again before we got to it: its RTM_DELLINK is on the way */
                log_debug("%s: ifindex %d is gone already.", l->name, ifindex);
                if (l->ifindex == ifindex)
                        link_lost(l, "link removed");
                return;
        }
        if (r < 0 && l->ifindex == ifindex && l->arphrd == arphrd && r == l->attach_error) {
                /* nothing changed since the last try (another RTM_NEWLINK of the same link) */
                log_debug("%s: still cannot attach to ifindex %d: %s", l->name, ifindex, strerror(-r));
                return;
        }
        l->ifindex = ifindex;
        l->arphrd = arphrd;
        l->attach_error = r < 0 ? r : 0;
        if (r < 0)
                log_warning_errno(r, "%s: link ifindex %d (type %u) present, failed to attach: %m", l->name,
                                  ifindex, arphrd);
        else if (m->intercept) {
                l->attached = true;
                l->attached_usec = now_usec();
                /* the kernel's tcx attach waits for an RCU grace period: most of the latency */
                log_info("%s: link ifindex %d (type %u) attached (in %.1f ms).", l->name, ifindex, arphrd,
                         (double) (l->attached_usec - t) / 1000.0);
        } else
                log_info("%s: link ifindex %d (type %u) present.", l->name, ifindex, arphrd);
        manager_emit_interfaces_changed(m);
}

Link *link_free(Link *l)
{
        Link **p;

        if (!l)
                return NULL;
        link_detach(l);
        for (p = &l->manager->links; *p; p = &(*p)->next)
                if (*p == l) {
                        *p = l->next;
                        break;
                }
        free(l->name);
        free(l);
        return NULL;
}

Link *manager_find_link(Manager *m, const char *name)
{
        for (Link *l = m->links; l; l = l->next)
                if (streq(l->name, name))
                        return l;
        return NULL;
}

Link *manager_find_link_by_ifindex(Manager *m, int ifindex)
{
        for (Link *l = m->links; l; l = l->next)
                if (l->ifindex == ifindex)
                        return l;
        return NULL;
}

size_t manager_n_links(Manager *m)
{
        size_t n = 0;

        for (Link *l = m->links; l; l = l->next)
                n++;
        return n;
}

void manager_on_rtnl_link(void *userdata, const RtnlLink *ev)
{
        Manager *m = userdata;
        Link *l;

        switch (ev->type) {
        case RTNL_DUMP_START:
                m->link_generation++;
                return;
        case RTNL_DUMP_DONE:
                /* anything we believed present that the dump did not report is gone */
                for (l = m->links; l; l = l->next)
                        if (l->ifindex != 0 && l->seen != m->link_generation)
                                link_lost(l, "vanished while events were lost");
                return;
        case RTNL_LINK_DEL:
                l = manager_find_link_by_ifindex(m, ev->ifindex);
                if (l) {
                        /* the kernel removed the tcx link with the device; drop our fd */
                        link_lost(l, "link removed");
                }
                return;
        case RTNL_LINK_NEW:
                l = manager_find_link_by_ifindex(m, ev->ifindex);
                if (l && !streq(l->name, ev->name))
                        link_lost(l, "renamed away");
                l = manager_find_link(m, ev->name);
                if (!l)
                        return;
                l->seen = m->link_generation;
                link_found(l, ev->ifindex, ev->arphrd);
                return;
        default:
                return;
        }
}
