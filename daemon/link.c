/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "link.h"
#include "util.h"

struct LinkSet {
        const LinkOps *ops;
        void *userdata;
        Link *links;
        unsigned generation;   /* bumped at each rtnetlink dump */
};

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int link_set_new(LinkSet **ret, const LinkOps *ops, void *userdata)
{
        LinkSet *s = calloc(1, sizeof(LinkSet));

        if (!s)
                return -ENOMEM;
        s->ops = ops;
        s->userdata = userdata;
        *ret = s;
        return 0;
}

static void link_detach(LinkSet *s, Link *l)
{
        if (l->attached && s->ops->detach) {
                int r = s->ops->detach(s->userdata, l->ifindex);

                if (r < 0)
                        log_warning_errno(r, "%s: failed to detach from ifindex %d, ignoring: %m", l->name,
                                l->ifindex);
        }
        l->attached = false;
}

static void link_unref(Link *l)
{
        free(l->name);
        free(l);
}

LinkSet *link_set_free(LinkSet *s)
{
        if (!s)
                return NULL;
        while (s->links) {
                Link *l = s->links;

                s->links = l->next;
                link_detach(s, l);
                link_unref(l);
        }
        free(s);
        return NULL;
}

int link_set_add(LinkSet *s, const char *name, Link **ret)
{
        Link *l, **tail;

        if (link_set_find(s, name))
                return -EEXIST;
        l = calloc(1, sizeof(Link));
        if (!l)
                return -ENOMEM;
        l->name = strdup(name);
        if (!l->name) {
                free(l);
                return -ENOMEM;
        }
        for (tail = &s->links; *tail; tail = &(*tail)->next)
                ;
        *tail = l;
        if (ret)
                *ret = l;
        return 0;
}

int link_set_remove(LinkSet *s, const char *name)
{
        for (Link **p = &s->links; *p; p = &(*p)->next)
                if (streq((*p)->name, name)) {
                        Link *l = *p;

                        *p = l->next;
                        link_detach(s, l);
                        link_unref(l);
                        return 0;
                }
        return -ENOENT;
}

Link *link_set_find(const LinkSet *s, const char *name)
{
        for (Link *l = s->links; l; l = l->next)
                if (streq(l->name, name))
                        return l;
        return NULL;
}

Link *link_set_find_by_ifindex(const LinkSet *s, int ifindex)
{
        for (Link *l = s->links; l; l = l->next)
                if (l->ifindex == ifindex)
                        return l;
        return NULL;
}

Link *link_set_first(const LinkSet *s)
{
        return s->links;
}

size_t link_set_size(const LinkSet *s)
{
        size_t n = 0;

        for (Link *l = s->links; l; l = l->next)
                n++;
        return n;
}

/* The link is gone or no longer carries the name. Returns 1 when the name had a link. */
static int link_lost(LinkSet *s, Link *l, const char *why)
{
        if (l->ifindex == 0)
                return 0;
        log_info("%s: %s (ifindex %d)%s.", l->name, why, l->ifindex,
                 l->attached ? ", interception detached" : "");
        link_detach(s, l);
        l->ifindex = 0;
        l->arphrd = 0;
        l->attach_error = 0;
        return 1;
}

/* A link with the name: attach to it. Returns 1 when the name's ifindex or attachment changed. */
static int link_found(LinkSet *s, Link *l, const RtnlLink *ev)
{
        int old_ifindex = l->ifindex, ifindex = ev->ifindex, r = 0;
        unsigned short arphrd = ev->arphrd;
        bool old_attached = l->attached, recreated = false;
        uint64_t t;

        if (l->ifindex == ifindex && l->arphrd == arphrd && (l->attached || !s->ops->attach)) {
                if (!l->attached || !s->ops->is_live || s->ops->is_live(s->userdata, ifindex))
                        return 0;
                /* The kernel took our program away with the link that had this ifindex. Either the
                 * link is being deleted: the kernel takes it down (this RTM_NEWLINK), removes our
                 * program, and its RTM_DELLINK follows, while the dying link may still accept an
                 * attach. Or it was deleted and created again with the same name and ifindex while
                 * we lost the events (a resync's dump reports it). A link that is down waits: it is
                 * attached when it comes up, if it is not removed first. */
                link_detach(s, l);
                if (!(ev->flags & IFF_UP)) {
                        log_debug("%s: ifindex %d is down and lost the egress program (being deleted?), "
                                  "attaching when it comes up.", l->name, ifindex);
                        return l->attached != old_attached;
                }
                recreated = true;
        }
        if (l->ifindex != 0 && l->ifindex != ifindex)
                (void) link_lost(s, l, "name moved to another link");
        if (l->ifindex == ifindex && l->arphrd != arphrd)
                link_detach(s, l);   /* the link type decides the program variant */

        t = now_usec();
        if (s->ops->attach)
                r = s->ops->attach(s->userdata, ifindex, arphrd);
        if (r == -ENODEV) {
                /* removed before we got to it: its RTM_DELLINK is on the way */
                log_debug("%s: ifindex %d is gone already.", l->name, ifindex);
                if (l->ifindex == ifindex)
                        (void) link_lost(s, l, "link removed");
                return l->ifindex != old_ifindex || l->attached != old_attached;
        }
        if (r < 0 && l->ifindex == ifindex && l->arphrd == arphrd && r == l->attach_error) {
                /* nothing changed since the last try (another RTM_NEWLINK of the same link) */
                log_debug("%s: still cannot attach to ifindex %d: %s", l->name, ifindex, strerror(-r));
                return l->ifindex != old_ifindex || l->attached != old_attached;
        }
        l->ifindex = ifindex;
        l->arphrd = arphrd;
        l->attach_error = r < 0 ? r : 0;
        if (r < 0)
                log_warning_errno(r, "%s: link ifindex %d (type %u) present, failed to attach: %m", l->name,
                                  ifindex, arphrd);
        else if (s->ops->attach) {
                l->attached = true;
                l->attached_usec = now_usec();
                /* the kernel's tcx attach waits for an RCU grace period: most of the latency */
                log_info("%s: link ifindex %d (type %u)%s attached (in %.1f ms).", l->name, ifindex, arphrd,
                         recreated ? " is a new link with the same ifindex," : "",
                         (double) (l->attached_usec - t) / 1000.0);
        } else
                log_info("%s: link ifindex %d (type %u) present.", l->name, ifindex, arphrd);
        return l->ifindex != old_ifindex || l->attached != old_attached;
}

int link_set_handle(LinkSet *s, const RtnlLink *ev)
{
        int changed = 0;
        Link *l;

        switch (ev->type) {
        case RTNL_DUMP_START:
                s->generation++;
                return 0;
        case RTNL_DUMP_DONE:
                /* anything we believed present that the dump did not report is gone */
                for (l = s->links; l; l = l->next)
                        if (l->ifindex != 0 && l->seen != s->generation)
                                changed += link_lost(s, l, "vanished while events were lost");
                return changed;
        case RTNL_LINK_DEL:
                /* deleted, or moved to another network namespace: the kernel removed the tcx link
                 * with the device, we drop our fd */
                l = link_set_find_by_ifindex(s, ev->ifindex);
                return l ? link_lost(s, l, "link removed") : 0;
        case RTNL_LINK_NEW:
                l = link_set_find_by_ifindex(s, ev->ifindex);
                if (l && !streq(l->name, ev->name))
                        changed += link_lost(s, l, "renamed away");
                l = link_set_find(s, ev->name);
                if (!l)
                        return changed;
                l->seen = s->generation;
                return changed + link_found(s, l, ev);
        default:
                return 0;
        }
}
