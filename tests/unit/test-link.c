/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Link tracking decisions (daemon/link.c), without a kernel: RtnlLink events go in, and the test
 * checks what it asked interception to do (attach, detach), what it believes (ifindex,
 * attached) and what it reported as changed. */
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>

#include "link.h"
#include "tests.h"
#include "util.h"

typedef struct Fake {
        char calls[256];        /* "A3 D3 A5": attach / detach of an ifindex, in order */
        int attach_result[16];  /* by ifindex: what attach returns */
        bool dead[16];          /* by ifindex: the kernel took our program away */
} Fake;

static void record(Fake *f, char op, int ifindex)
{
        size_t n = strlen(f->calls);

        snprintf(f->calls + n, sizeof(f->calls) - n, "%s%c%d", n ? " " : "", op, ifindex);
}

static int fake_attach(void *userdata, int ifindex, unsigned short arphrd)
{
        Fake *f = userdata;

        record(f, 'A', ifindex);
        if (f->attach_result[ifindex] >= 0)
                f->dead[ifindex] = false;
        return f->attach_result[ifindex];
}

static int fake_detach(void *userdata, int ifindex)
{
        record(userdata, 'D', ifindex);
        return 1;
}

static bool fake_is_live(void *userdata, int ifindex)
{
        Fake *f = userdata;

        return !f->dead[ifindex];
}

static const LinkOps fake_ops = { .attach = fake_attach, .detach = fake_detach, .is_live = fake_is_live };

static int ev_flags(LinkSet *s, RtnlEventType type, int ifindex, const char *name, unsigned short arphrd,
                    unsigned flags)
{
        RtnlLink l = { .type = type, .ifindex = ifindex, .arphrd = arphrd, .flags = flags };

        snprintf(l.name, sizeof(l.name), "%s", name ?: "");
        return link_set_handle(s, &l);
}

static int ev(LinkSet *s, RtnlEventType type, int ifindex, const char *name, unsigned short arphrd)
{
        return ev_flags(s, type, ifindex, name, arphrd, IFF_UP);
}

/* an RTM_NEWLINK of a link that is up */
static int newlink(LinkSet *s, int ifindex, const char *name)
{
        return ev(s, RTNL_LINK_NEW, ifindex, name, ARPHRD_ETHER);
}

/* ... and of one that is down */
static int newlink_down(LinkSet *s, int ifindex, const char *name)
{
        return ev_flags(s, RTNL_LINK_NEW, ifindex, name, ARPHRD_ETHER, 0);
}

static int dellink(LinkSet *s, int ifindex, const char *name)
{
        return ev(s, RTNL_LINK_DEL, ifindex, name, ARPHRD_ETHER);
}

/* A set managing eth0 (and wg0), with the fake. */
static LinkSet *setup(Fake *f)
{
        LinkSet *s = NULL;

        *f = (Fake) {};
        if (link_set_new(&s, &fake_ops, f) < 0)
                return NULL;
        if (link_set_add(s, "eth0", NULL) < 0 || link_set_add(s, "wg0", NULL) < 0)
                return link_set_free(s);
        return s;
}

static void test_found_and_repeated(void)
{
        Fake f;
        LinkSet *s = setup(&f);
        Link *l;

        ASSERT(s);
        ASSERT_EQ(newlink(s, 7, "unmanaged"), 0);
        ASSERT_STREQ(f.calls, "");
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        ASSERT_STREQ(f.calls, "A3");
        l = link_set_find(s, "eth0");
        ASSERT(l && l->ifindex == 3 && l->attached);
        ASSERT(link_set_find_by_ifindex(s, 3) == l);
        /* down, up, address changes: more RTM_NEWLINK of the same link change nothing */
        ASSERT_EQ(newlink(s, 3, "eth0"), 0);
        ASSERT_EQ(newlink(s, 3, "eth0"), 0);
        ASSERT_STREQ(f.calls, "A3");
        link_set_free(s);
        ASSERT_STREQ(f.calls, "A3 D3");
}

static void test_deleted(void)
{
        Fake f;
        LinkSet *s = setup(&f);
        Link *l;

        ASSERT(s);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        ASSERT_EQ(dellink(s, 3, "eth0"), 1);
        l = link_set_find(s, "eth0");
        ASSERT(l && l->ifindex == 0 && !l->attached);
        ASSERT_STREQ(f.calls, "A3 D3");
        /* a second RTM_DELLINK, or one of a link we do not manage: nothing */
        ASSERT_EQ(dellink(s, 3, "eth0"), 0);
        ASSERT_EQ(dellink(s, 9, "other"), 0);
        /* still managed: it comes back under a new ifindex */
        ASSERT_EQ(newlink(s, 4, "eth0"), 1);
        ASSERT(l->ifindex == 4 && l->attached);
        ASSERT_STREQ(f.calls, "A3 D3 A4");
        link_set_free(s);
}

static void test_renamed(void)
{
        Fake f;
        LinkSet *s = setup(&f);

        ASSERT(s);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        /* renamed away: detached, the name is absent */
        ASSERT_EQ(newlink(s, 3, "eth9"), 1);
        ASSERT_EQ(link_set_find(s, "eth0")->ifindex, 0);
        ASSERT_STREQ(f.calls, "A3 D3");
        /* another link renamed to the name: attached */
        ASSERT_EQ(newlink(s, 5, "eth0"), 1);
        ASSERT_STREQ(f.calls, "A3 D3 A5");
        /* renamed from one managed name to the other: both change */
        ASSERT_EQ(newlink(s, 5, "wg0"), 2);
        ASSERT_EQ(link_set_find(s, "eth0")->ifindex, 0);
        ASSERT_EQ(link_set_find(s, "wg0")->ifindex, 5);
        ASSERT_STREQ(f.calls, "A3 D3 A5 D5 A5");
        link_set_free(s);
}

static void test_name_moved_to_another_link(void)
{
        Fake f;
        LinkSet *s = setup(&f);

        ASSERT(s);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        /* the events of the old link's rename were lost: the name shows up on ifindex 8 */
        ASSERT_EQ(newlink(s, 8, "eth0"), 1);
        ASSERT_EQ(link_set_find(s, "eth0")->ifindex, 8);
        ASSERT_STREQ(f.calls, "A3 D3 A8");
        link_set_free(s);
}

static void test_moved_to_another_namespace(void)
{
        Fake f;
        LinkSet *s = setup(&f);

        ASSERT(s);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        /* ip link set eth0 netns other: our namespace sees RTM_DELLINK */
        ASSERT_EQ(dellink(s, 3, "eth0"), 1);
        ASSERT_STREQ(f.calls, "A3 D3");
        /* and back, under another ifindex (the kernel may keep it; either is handled) */
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        ASSERT_STREQ(f.calls, "A3 D3 A3");
        link_set_free(s);
}

static void test_recreated_same_ifindex(void)
{
        Fake f;
        LinkSet *s = setup(&f);
        Link *l;

        ASSERT(s);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        l = link_set_find(s, "eth0");
        /* deleted and created again with the same name and ifindex while events were lost: the
         * kernel took the program; the next RTM_NEWLINK attaches again, the view is unchanged */
        f.dead[3] = true;
        ASSERT_EQ(newlink(s, 3, "eth0"), 0);
        ASSERT(l->ifindex == 3 && l->attached);
        ASSERT_STREQ(f.calls, "A3 D3 A3");
        link_set_free(s);
}

static void test_dying_link_is_removed_not_reattached(void)
{
        Fake f;
        LinkSet *s = setup(&f);
        Link *l;

        ASSERT(s);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        l = link_set_find(s, "eth0");
        /* the RTM_NEWLINK of a link being deleted: the kernel takes it down, removes our program,
         * and the dying link may still accept an attach. Not attached again, not "a new link": */
        f.dead[3] = true;
        ASSERT_EQ(newlink_down(s, 3, "eth0"), 1);
        ASSERT(l->ifindex == 3 && !l->attached);
        ASSERT_STREQ(f.calls, "A3 D3");
        /* its RTM_DELLINK removes it */
        ASSERT_EQ(dellink(s, 3, "eth0"), 1);
        ASSERT(l->ifindex == 0 && !l->attached);
        ASSERT_STREQ(f.calls, "A3 D3");

        /* up, and gone before the attach (ENODEV): removed at once, its RTM_DELLINK changes nothing */
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        f.dead[3] = true;
        f.attach_result[3] = -ENODEV;
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        ASSERT(l->ifindex == 0 && !l->attached);
        ASSERT_STREQ(f.calls, "A3 D3 A3 D3 A3");
        ASSERT_EQ(dellink(s, 3, "eth0"), 0);
        link_set_free(s);
}

static void test_recreated_down_waits_until_up(void)
{
        Fake f;
        LinkSet *s = setup(&f);
        Link *l;

        ASSERT(s);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        l = link_set_find(s, "eth0");
        /* created again, down, with the same ifindex: attached once it comes up */
        f.dead[3] = true;
        ASSERT_EQ(newlink_down(s, 3, "eth0"), 1);
        ASSERT(l->ifindex == 3 && !l->attached);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        ASSERT(l->ifindex == 3 && l->attached);
        ASSERT_STREQ(f.calls, "A3 D3 A3");
        link_set_free(s);
}

static void test_attach_refused(void)
{
        Fake f;
        LinkSet *s = setup(&f);
        Link *l;

        ASSERT(s);
        f.attach_result[3] = -EOPNOTSUPP;
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        l = link_set_find(s, "eth0");
        ASSERT(l->ifindex == 3 && !l->attached && l->attach_error == -EOPNOTSUPP);
        /* tried again at the next RTM_NEWLINK, quietly when nothing changed */
        ASSERT_EQ(newlink(s, 3, "eth0"), 0);
        ASSERT_STREQ(f.calls, "A3 A3");
        /* a link that was never attached is not detached */
        ASSERT_EQ(dellink(s, 3, "eth0"), 1);
        ASSERT_STREQ(f.calls, "A3 A3");
        link_set_free(s);
        ASSERT_STREQ(f.calls, "A3 A3");
}

static void test_type_change_reattaches(void)
{
        Fake f;
        LinkSet *s = setup(&f);

        ASSERT(s);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        /* the link type picks the program variant */
        ASSERT_EQ(ev(s, RTNL_LINK_NEW, 3, "eth0", ARPHRD_NONE), 0);
        ASSERT_EQ(link_set_find(s, "eth0")->arphrd, ARPHRD_NONE);
        ASSERT_STREQ(f.calls, "A3 D3 A3");
        link_set_free(s);
}

static void test_dump_after_lost_events(void)
{
        Fake f;
        LinkSet *s = setup(&f);

        ASSERT(s);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        ASSERT_EQ(newlink(s, 4, "wg0"), 1);
        /* events were lost; the dump reports wg0 only: eth0 vanished meanwhile */
        ASSERT_EQ(ev(s, RTNL_DUMP_START, 0, NULL, 0), 0);
        ASSERT_EQ(newlink(s, 4, "wg0"), 0);
        ASSERT_EQ(ev(s, RTNL_DUMP_DONE, 0, NULL, 0), 1);
        ASSERT_EQ(link_set_find(s, "eth0")->ifindex, 0);
        ASSERT_EQ(link_set_find(s, "wg0")->ifindex, 4);
        ASSERT_STREQ(f.calls, "A3 A4 D3");
        /* a failed request is not a link event */
        ASSERT_EQ(ev(s, RTNL_REQUEST_FAILED, 0, NULL, 0), 0);
        link_set_free(s);
}

static void test_add_remove(void)
{
        Fake f;
        LinkSet *s = setup(&f);
        Link *l;

        ASSERT(s);
        ASSERT_EQ(link_set_add(s, "eth0", NULL), -EEXIST);
        ASSERT_EQ(link_set_add(s, "br0", &l), 0);
        ASSERT_STREQ(l->name, "br0");
        /* the order of addition */
        l = link_set_first(s);
        ASSERT_STREQ(l->name, "eth0");
        ASSERT_STREQ(l->next->name, "wg0");
        ASSERT_STREQ(l->next->next->name, "br0");
        ASSERT_EQ(link_set_size(s), 3u);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        ASSERT_EQ(link_set_remove(s, "eth0"), 0);
        ASSERT_STREQ(f.calls, "A3 D3");
        ASSERT_EQ(link_set_remove(s, "eth0"), -ENOENT);
        ASSERT_EQ(link_set_size(s), 2u);
        /* an unmanaged name's link is left alone */
        ASSERT_EQ(newlink(s, 3, "eth0"), 0);
        ASSERT_STREQ(f.calls, "A3 D3");
        link_set_free(s);
}

static void test_presence_only(void)
{
        static const LinkOps none = {};
        LinkSet *s = NULL;
        Link *l;

        ASSERT_EQ(link_set_new(&s, &none, NULL), 0);
        ASSERT_EQ(link_set_add(s, "eth0", &l), 0);
        ASSERT_EQ(newlink(s, 3, "eth0"), 1);
        ASSERT(l->ifindex == 3 && !l->attached);
        ASSERT_EQ(newlink(s, 3, "eth0"), 0);
        ASSERT_EQ(dellink(s, 3, "eth0"), 1);
        ASSERT_EQ(l->ifindex, 0);
        link_set_free(s);
}

int main(void)
{
        RUN(test_found_and_repeated);
        RUN(test_deleted);
        RUN(test_renamed);
        RUN(test_name_moved_to_another_link);
        RUN(test_moved_to_another_namespace);
        RUN(test_recreated_same_ifindex);
        RUN(test_dying_link_is_removed_not_reattached);
        RUN(test_recreated_down_waits_until_up);
        RUN(test_attach_refused);
        RUN(test_type_change_reattaches);
        RUN(test_dump_after_lost_events);
        RUN(test_add_remove);
        RUN(test_presence_only);
        TESTS_DONE();
}
