/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <linux/types.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf-util.h"
#include "handover.h"
#include "intercept.h"
#include "intercept.skel.h"
#include "missing.h"
#include "netlink-util.h"
#include "skfastpath.h"
#include "tc.h"

typedef struct InterceptLink {
        int ifindex;
        bool l3;
        int link_fd;            /* tcx: the link; clsact: -EBADF */
        bool qdisc_created;     /* clsact: we added the qdisc, we remove it when it is empty */
} InterceptLink;

struct Intercept {
        struct intercept_bpf *skel;
        AttachMode mode;        /* ATTACH_MODE_TCX or ATTACH_MODE_CLSACT */
        struct mnl_socket *nl;  /* rtnetlink for the TC filters (also in tcx mode: the purge) */
        int lo_ifindex;
        int lo_link_fd;
        bool lo_attached;       /* clsact: our filter is on lo ingress */
        bool lo_qdisc_created;
        bool keep_filters;      /* clsact: handed over, the next process replaces our filters */
        int handed_tc_lo;       /* the previous process had a lo filter: 1, and its qdisc: 2 */
        InterceptLink *links;
        size_t n_links;
};

/* The ids let an administrator (and the tests) find the link with bpftool. */
static void log_link(int fd, const char *what)
{
        struct bpf_link_info info = {};
        uint32_t len = sizeof(info);

        if (bpf_obj_get_info_by_fd(fd, &info, &len) >= 0)
                log_debug("%s (tcx link %u, program %u).", what, info.id, info.prog_id);
}

static int tcx_attach(int prog_fd, int ifindex, int attach_type, const char *what)
{
        char buf[128];
        int fd;

        fd = bpf_link_create(prog_fd, ifindex, attach_type, NULL);
        if (fd < 0) {
                if (fd == -ENODEV)   /* the link went away before we got to it: the caller decides */
                        return log_debug_errno(fd, "Failed to attach %s: %m", what);
                if (fd == -EINVAL)
                        return log_error_errno(fd, "Failed to attach %s: the kernel refused a tcx link "
                                               "(tcx needs Linux 6.6 or newer): %m", what);
                return log_error_errno(fd, "Failed to attach %s: %m", what);
        }
        snprintf(buf, sizeof(buf), "Attached %s", what);
        log_link(fd, buf);
        return fd;
}

#define HANDOVER_LO_NAME HANDOVER_PREFIX "tcx-lo"
#define HANDOVER_EGRESS_PREFIX HANDOVER_PREFIX "tcx-egress-"
/* clsact: the filters stay in the kernel; the entries (a program fd, only a token) tell the next
 * process which are ours and whether we created the qdisc ("-q") */
#define HANDOVER_TC_LO_NAME HANDOVER_PREFIX "tc-lo"
#define HANDOVER_TC_LO_Q_NAME HANDOVER_PREFIX "tc-lo-q"
#define HANDOVER_TC_EGRESS_PREFIX HANDOVER_PREFIX "tc-egress-"

static const char *egress_prog_name(bool l3)
{
        return l3 ? "skfp_egress_l3" : "skfp_egress_eth";
}

/* clsact: our filter on a hook, the qdisc added first if there is none. */
static int tc_attach(Intercept *ic, int ifindex, bool egress, int prog_fd, const char *name,
                     bool *qdisc_created, const char *what)
{
        struct bpf_prog_info info = {};
        uint32_t len = sizeof(info);
        int r;

        r = tc_clsact_add(ic->nl, ifindex);
        if (r < 0) {
                if (r == -ENODEV)
                        return log_debug_errno(r, "Failed to add a clsact qdisc for %s: %m", what);
                return log_error_errno(r, "Failed to add a clsact qdisc for %s: %m", what);
        }
        if (r > 0)
                *qdisc_created = true;
        r = tc_filter_replace(ic->nl, ifindex, egress, prog_fd, name);
        if (r < 0) {
                if (r == -ENODEV)
                        return log_debug_errno(r, "Failed to attach %s: %m", what);
                return log_error_errno(r, "Failed to attach %s as a TC filter: %m", what);
        }
        if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
                info.id = 0;
        /* the tests find the program by "(tc filter, program N)" */
        log_debug("Attached %s (tc filter, program %u; pref %u handle 0x%x%s).", what, info.id, TC_PRIORITY,
                  TC_HANDLE, *qdisc_created ? ", on a clsact qdisc of ours" : "");
        return 0;
}

static bool hook_is_empty(Intercept *ic, int ifindex, bool egress)
{
        _cleanup_free_ TcFilterInfo *f = NULL;
        size_t n = 0;

        return tc_filter_list(ic->nl, ifindex, egress, &f, &n) >= 0 && n == 0;
}

/* clsact: our filter goes; the qdisc too if we added it and nobody else put a filter on it. */
static void tc_detach(Intercept *ic, int ifindex, bool egress, bool qdisc_created)
{
        int r;

        r = tc_filter_del(ic->nl, ifindex, egress);
        if (r < 0 && r != -ENOENT && r != -ENODEV && r != -EINVAL)
                log_warning_errno(r, "Failed to delete our TC filter on ifindex %d, ignoring: %m", ifindex);
        if (!qdisc_created || !hook_is_empty(ic, ifindex, false) || !hook_is_empty(ic, ifindex, true))
                return;
        r = tc_clsact_del(ic->nl, ifindex);
        if (r < 0 && r != -ENOENT && r != -ENODEV && r != -EINVAL)
                log_warning_errno(r, "Failed to delete our clsact qdisc on ifindex %d, ignoring: %m", ifindex);
}

static InterceptLink *find_link(Intercept *ic, int ifindex);

/* A crashed (or killed) clsact run left its filters behind: they would keep redirecting. Every
 * filter of ours (priority, handle, filter and program names: tc_filter_is_ours()) in this
 * network namespace goes, except those just taken over. Runs in both modes. A clsact qdisc
 * such a run created stays (we cannot know it was ours); it is empty and harmless. */
static int purge_stale_filters(Intercept *ic)
{
        struct if_nameindex *ifs;

        ifs = if_nameindex();
        if (!ifs)
                return log_warning_errno(errno, "Failed to list the interfaces for stale TC filters: %m");
        for (struct if_nameindex *i = ifs; i->if_index != 0; i++)
                for (int egress = 0; egress <= 1; egress++) {
                        _cleanup_free_ TcFilterInfo *f = NULL;
                        int ifindex = (int) i->if_index, r;
                        size_t n = 0;

                        if (ic->mode == ATTACH_MODE_CLSACT &&
                            (egress ? !!find_link(ic, ifindex) : ifindex == ic->lo_ifindex && ic->lo_attached))
                                continue;   /* taken over */
                        if (tc_filter_list(ic->nl, ifindex, egress, &f, &n) < 0)
                                continue;
                        for (size_t k = 0; k < n; k++) {
                                if (!tc_filter_is_ours(&f[k]))
                                        continue;
                                r = tc_filter_del(ic->nl, ifindex, egress);
                                if (r < 0 && r != -ENOENT)
                                        log_warning_errno(r, "Failed to remove a stale TC filter of ours "
                                                          "on %s %s: %m", i->if_name, egress ? "egress" : "ingress");
                                else
                                        log_info("Removed a stale TC filter of ours (%s, program %u) on %s %s.",
                                                 f[k].name, f[k].prog_id, i->if_name,
                                                 egress ? "egress" : "ingress");
                        }
                }
        if_freenameindex(ifs);
        return 0;
}

/* clsact: the previous process's filters get our programs in place. */
static int take_tc_filters(Intercept *ic, const Config *c, Handover *h)
{
        const char *name;
        int fd, r;

        if (ic->handed_tc_lo > 0) {
                ic->lo_qdisc_created = ic->handed_tc_lo == 2;
                r = tc_filter_replace(ic->nl, ic->lo_ifindex, false,
                                      bpf_program__fd(ic->skel->progs.skfp_lo_ingress), "skfp_lo_ingress");
                if (r < 0)
                        log_warning_errno(r, "Failed to update the handed over lo ingress filter, attaching anew: %m");
                else {
                        ic->lo_attached = true;
                        log_debug("Took over the lo ingress TC filter of the previous process.");
                }
        }

        while ((fd = handover_take_prefix(h, HANDOVER_TC_EGRESS_PREFIX, &name)) >= 0) {
                char ifname[IF_NAMESIZE] = "", variant[4] = "", q[3] = "";
                InterceptLink *a;
                int ifindex = 0;
                bool l3;

                safe_close(fd);
                if (sscanf(name + strlen(HANDOVER_TC_EGRESS_PREFIX), "%d-%3[a-z0-9]-%2s", &ifindex, variant, q) < 2 ||
                    ifindex <= 0 || (!streq(variant, "eth") && !streq(variant, "l3"))) {
                        log_warning("Handed over TC filter entry \"%s\" is not one of ours, ignoring it.", name);
                        continue;
                }
                l3 = streq(variant, "l3");
                if (!if_indextoname((unsigned) ifindex, ifname) || !config_has_interface(c, ifname)) {
                        log_debug("Not taking the handed over egress filter on ifindex %d (%s): not managed.",
                                  ifindex, ifname[0] ? ifname : "gone");
                        if (ifname[0])
                                tc_detach(ic, ifindex, true, streq(q, "q"));
                        continue;
                }
                r = tc_filter_replace(ic->nl, ifindex, true,
                                      bpf_program__fd(l3 ? ic->skel->progs.skfp_egress_l3 :
                                                           ic->skel->progs.skfp_egress_eth),
                                      egress_prog_name(l3));
                if (r < 0) {
                        log_warning_errno(r, "Failed to update the handed over egress filter on %s, ignoring: %m",
                                          ifname);
                        continue;
                }
                a = reallocarray(ic->links, ic->n_links + 1, sizeof(InterceptLink));
                if (!a)
                        return log_oom();
                ic->links = a;
                ic->links[ic->n_links++] = (InterceptLink) {
                        .ifindex = ifindex,
                        .l3 = l3,
                        .link_fd = -EBADF,
                        .qdisc_created = streq(q, "q"),
                };
                log_debug("Took over the egress TC filter on %s (ifindex %d).", ifname, ifindex);
        }
        return 0;
}

/* The previous process's lo ingress link gets our program in one step (no moment without it). */
static int take_lo_link(Intercept *ic, Handover *h)
{
        int fd, r;

        fd = handover_take(h, HANDOVER_LO_NAME);
        if (fd < 0)
                return 0;
        r = bpf_link_update(fd, bpf_program__fd(ic->skel->progs.skfp_lo_ingress), NULL);
        if (r < 0) {
                log_warning_errno(r, "Failed to update the handed over lo ingress link, attaching anew: %m");
                safe_close(fd);
                return 0;
        }
        ic->lo_link_fd = fd;
        log_link(fd, "Took over the lo ingress link of the previous process");
        return 1;
}

/* "skfp-tcx-egress-IFINDEX-eth" or "-l3": kept (with our program) while c manages the interface. */
static int take_egress_links(Intercept *ic, const Config *c, Handover *h)
{
        const char *name;
        int fd, r;

        while ((fd = handover_take_prefix(h, HANDOVER_EGRESS_PREFIX, &name)) >= 0) {
                _cleanup_close_ int link_fd = fd;
                char ifname[IF_NAMESIZE] = "", variant[4] = "", ifname_msg[96];
                InterceptLink *a;
                int ifindex = 0, prog_fd;

                if (sscanf(name + strlen(HANDOVER_EGRESS_PREFIX), "%d-%3s", &ifindex, variant) != 2 ||
                    ifindex <= 0 || (!streq(variant, "eth") && !streq(variant, "l3"))) {
                        log_warning("Handed over tcx link \"%s\" is not one of ours, closing it.", name);
                        continue;
                }
                if (!if_indextoname((unsigned) ifindex, ifname) || !config_has_interface(c, ifname)) {
                        log_debug("Closing the handed over egress link on ifindex %d (%s): not managed.",
                                  ifindex, ifname[0] ? ifname : "gone");
                        continue;
                }
                prog_fd = bpf_program__fd(streq(variant, "l3") ? ic->skel->progs.skfp_egress_l3 :
                                                                  ic->skel->progs.skfp_egress_eth);
                r = bpf_link_update(link_fd, prog_fd, NULL);
                if (r < 0) {
                        log_warning_errno(r, "Failed to update the handed over egress link on %s, ignoring: %m",
                                          ifname);
                        continue;
                }
                a = reallocarray(ic->links, ic->n_links + 1, sizeof(InterceptLink));
                if (!a)
                        return log_oom();
                ic->links = a;
                ic->links[ic->n_links++] = (InterceptLink) {
                        .ifindex = ifindex,
                        .l3 = streq(variant, "l3"),
                        .link_fd = TAKE_FD(link_fd),
                };
                snprintf(ifname_msg, sizeof(ifname_msg), "Took over the egress link on %s (ifindex %d)",
                         ifname, ifindex);
                log_link(ic->links[ic->n_links - 1].link_fd, ifname_msg);
        }
        return 0;
}

unsigned intercept_handover_size(Intercept *ic)
{
        return ic ? 1 + (unsigned) ic->n_links : 0;
}

static int tc_handover(Intercept *ic, HandoverStore *store)
{
        int token = bpf_program__fd(ic->skel->progs.skfp_lo_ingress), r;

        if (ic->lo_attached) {
                r = handover_store_add(store, ic->lo_qdisc_created ? HANDOVER_TC_LO_Q_NAME : HANDOVER_TC_LO_NAME,
                                       token);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ic->n_links; i++) {
                char name[64];

                snprintf(name, sizeof(name), HANDOVER_TC_EGRESS_PREFIX "%d-%s%s", ic->links[i].ifindex,
                         ic->links[i].l3 ? "l3" : "eth", ic->links[i].qdisc_created ? "-q" : "");
                r = handover_store_add(store, name, token);
                if (r < 0)
                        return r;
        }
        ic->keep_filters = true;
        return 0;
}

void intercept_handover_cancel(Intercept *ic)
{
        if (ic)
                ic->keep_filters = false;
}

const char *intercept_attach_mode(Intercept *ic)
{
        return ic ? attach_mode_to_string(ic->mode) : "";
}

int intercept_handover(Intercept *ic, HandoverStore *store)
{
        int r;

        if (!ic)
                return 0;
        if (ic->mode == ATTACH_MODE_CLSACT)
                return tc_handover(ic, store);
        r = handover_store_add(store, HANDOVER_LO_NAME, ic->lo_link_fd);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ic->n_links; i++) {
                char name[64];

                snprintf(name, sizeof(name), HANDOVER_EGRESS_PREFIX "%d-%s", ic->links[i].ifindex,
                         ic->links[i].l3 ? "l3" : "eth");
                r = handover_store_add(store, name, ic->links[i].link_fd);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* tcx or clsact. AttachMode=auto probes: a handed over link or filter keeps the previous
 * process's mode; else the lo ingress tcx link is tried, and a kernel that refuses it (EINVAL
 * before Linux 6.6, EOPNOTSUPP) gets clsact. The version is never looked at. In tcx mode the lo
 * link is attached here. */
static int choose_mode(Intercept *ic, const Config *c, Handover *h)
{
        int prog_fd = bpf_program__fd(ic->skel->progs.skfp_lo_ingress), fd;

        fd = handover_take(h, HANDOVER_TC_LO_Q_NAME);
        if (fd >= 0)
                ic->handed_tc_lo = 2;
        else {
                fd = handover_take(h, HANDOVER_TC_LO_NAME);
                if (fd >= 0)
                        ic->handed_tc_lo = 1;
        }
        safe_close(fd);

        if (c->attach_mode == ATTACH_MODE_CLSACT) {
                ic->mode = ATTACH_MODE_CLSACT;
                return 0;
        }
        ic->mode = ATTACH_MODE_TCX;
        if (take_lo_link(ic, h) > 0)
                return 0;
        if (c->attach_mode == ATTACH_MODE_AUTO && ic->handed_tc_lo > 0) {
                ic->mode = ATTACH_MODE_CLSACT;
                return 0;
        }
        if (c->attach_mode == ATTACH_MODE_AUTO) {
                fd = bpf_link_create(prog_fd, ic->lo_ifindex, SKFP_BPF_TCX_INGRESS, NULL);
                if (fd == -EINVAL || fd == -EOPNOTSUPP) {
                        log_info_errno(fd, "The kernel refused a tcx link (%m), using TC filters on clsact qdiscs.");
                        ic->mode = ATTACH_MODE_CLSACT;
                        return 0;
                }
                if (fd < 0)
                        return log_error_errno(fd, "Failed to attach the interception program to lo ingress: %m");
                log_link(fd, "Attached the interception program to lo ingress");
        } else {
                fd = tcx_attach(prog_fd, ic->lo_ifindex, SKFP_BPF_TCX_INGRESS,
                                "the interception program to lo ingress");
                if (fd < 0)
                        return fd;
        }
        ic->lo_link_fd = fd;
        return 0;
}

int intercept_new(Intercept **ret, const Config *c, Handover *h)
{
        _cleanup_(intercept_freep) Intercept *ic = NULL;
        int r;

        ic = calloc(1, sizeof(Intercept));
        if (!ic)
                return log_oom();
        ic->lo_link_fd = -EBADF;

        ic->lo_ifindex = (int) if_nametoindex("lo");
        if (ic->lo_ifindex <= 0)
                return log_error_errno(errno, "Failed to find the loopback interface: %m");

        ic->skel = intercept_bpf__open();
        if (!ic->skel)
                return log_error_errno(errno, "Failed to open the interception programs: %m");
        ic->skel->rodata->lo_ifindex = (uint32_t) ic->lo_ifindex;
        ic->skel->rodata->intercept_mark = c->mark;
        ic->skel->rodata->bypass_mark = c->bypass_mark;
        ic->skel->rodata->listen_port = c->listen_port;
        r = bpf_map__set_max_entries(ic->skel->maps.intercept_ports, c->max_ports);
        if (r < 0)
                return log_error_errno(r, "Failed to size the intercept port map: %m");
        r = bpf_map__set_max_entries(ic->skel->maps.intercept_cgroups, c->max_cgroups);
        if (r < 0)
                return log_error_errno(r, "Failed to size the intercept cgroup map: %m");

        r = intercept_bpf__load(ic->skel);
        if (r < 0)
                return log_error_errno(r, "Failed to load the interception programs: %m");

        for (size_t i = 0; i < c->n_ports; i++) {
                r = intercept_set_port(ic, c->ports[i].port, true);
                if (r < 0)
                        return log_error_errno(r, "Failed to add port %u to the intercept map: %m",
                                               c->ports[i].port);
        }

        /* Until the manager has resolved the selected cgroups, a selection intercepts no local
         * connection: the egress links taken over below run this program at once. */
        r = intercept_set_selection(ic, c->n_cgroups > 0, 0, c->n_ports == 0);
        if (r < 0)
                return log_error_errno(r, "Failed to set the cgroup selection: %m");

        r = netlink_open(&ic->nl, SOCK_CLOEXEC, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to open rtnetlink for the TC filters: %m");

        r = choose_mode(ic, c, h);
        if (r < 0)
                return r;
        if (ic->mode == ATTACH_MODE_TCX) {
                r = take_egress_links(ic, c, h);
                if (r < 0)
                        return r;
                (void) purge_stale_filters(ic);
        } else {
                r = take_tc_filters(ic, c, h);
                if (r < 0)
                        return r;
                (void) purge_stale_filters(ic);
                if (!ic->lo_attached) {
                        r = tc_attach(ic, ic->lo_ifindex, false, bpf_program__fd(ic->skel->progs.skfp_lo_ingress),
                                      "skfp_lo_ingress", &ic->lo_qdisc_created,
                                      "the interception program to lo ingress");
                        if (r < 0)
                                return r;
                        ic->lo_attached = true;
                }
        }
        log_info("Interception attaches with %s.", ic->mode == ATTACH_MODE_TCX ? "tcx links" :
                 "TC filters on clsact qdiscs (AttachMode=clsact or no tcx in this kernel)");

        log_debug("Interception loaded: mark 0x%x, bypass mark 0x%x, listener port %u.",
                  c->mark, c->bypass_mark, c->listen_port);
        *ret = TAKE_PTR(ic);
        return 0;
}

Intercept *intercept_free(Intercept *ic)
{
        if (!ic)
                return NULL;
        /* Closing an unpinned link detaches it; a TC filter is deleted (unless handed over). Egress
         * first, so nothing is redirected into a lo that no longer assigns. */
        for (size_t i = 0; i < ic->n_links; i++) {
                if (ic->mode == ATTACH_MODE_CLSACT && !ic->keep_filters)
                        tc_detach(ic, ic->links[i].ifindex, true, ic->links[i].qdisc_created);
                safe_close(ic->links[i].link_fd);
        }
        free(ic->links);
        if (ic->mode == ATTACH_MODE_CLSACT && ic->lo_attached && !ic->keep_filters)
                tc_detach(ic, ic->lo_ifindex, false, ic->lo_qdisc_created);
        safe_close(ic->lo_link_fd);
        if (ic->nl)
                mnl_socket_close(ic->nl);
        intercept_bpf__destroy(ic->skel);
        free(ic);
        return NULL;
}

static InterceptLink *find_link(Intercept *ic, int ifindex)
{
        if (!ic->links)
                return NULL;
        for (size_t i = 0; i < ic->n_links; i++)
                if (ic->links[i].ifindex == ifindex)
                        return &ic->links[i];
        return NULL;
}

bool intercept_is_attached(Intercept *ic, int ifindex)
{
        return ic && find_link(ic, ifindex);
}

bool intercept_is_live(Intercept *ic, int ifindex)
{
        InterceptLink *l = ic ? find_link(ic, ifindex) : NULL;
        struct bpf_link_info info = {};
        uint32_t len = sizeof(info);

        if (!l)
                return false;
        if (ic->mode == ATTACH_MODE_CLSACT) {
                _cleanup_free_ TcFilterInfo *f = NULL;
                size_t n = 0;

                /* a deleted link takes its qdisc and our filter with it */
                if (tc_filter_list(ic->nl, ifindex, true, &f, &n) < 0)
                        return true;
                for (size_t i = 0; i < n; i++)
                        if (tc_filter_is_ours(&f[i]))
                                return true;
                return false;
        }
        if (bpf_obj_get_info_by_fd(l->link_fd, &info, &len) < 0)
                return true;   /* cannot tell: believe what we knew */
        /* libbpf 1.1's bpf_link_info has no tcx member; the kernel's tcx info begins with the
         * ifindex like xdp's, and it is 0 once the device is gone */
        return info.xdp.ifindex == (uint32_t) ifindex;
}

/* Ethernet-like devices carry a 14-byte header at TC egress; these carry none (tun, wireguard,
 * IP-in-IP tunnels, PPP). Anything else we have not seen work is refused. */
static int arphrd_is_l3(unsigned short arphrd)
{
        switch (arphrd) {
        case ARPHRD_ETHER:
                return 0;
        case ARPHRD_NONE:
        case ARPHRD_RAWIP:
        case ARPHRD_PPP:
        case ARPHRD_TUNNEL:
        case ARPHRD_TUNNEL6:
                return 1;
        default:
                return -EOPNOTSUPP;
        }
}

int intercept_attach(Intercept *ic, int ifindex, unsigned short arphrd)
{
        InterceptLink *l, *a;
        int r, l3, prog_fd, fd;
        char what[64];

        if (ifindex <= 0 || ifindex == ic->lo_ifindex)
                return -EINVAL;
        l3 = arphrd_is_l3(arphrd);
        if (l3 < 0)
                return log_error_errno(l3, "Cannot intercept on ifindex %d: link type %u is neither "
                                       "Ethernet nor a layer-3 device.", ifindex, arphrd);
        prog_fd = bpf_program__fd(l3 ? ic->skel->progs.skfp_egress_l3 : ic->skel->progs.skfp_egress_eth);

        l = find_link(ic, ifindex);
        if (l) {
                if (l->l3 == l3)
                        return 0;
                /* same ifindex, other link type (cannot really happen): swap the program */
                if (ic->mode == ATTACH_MODE_CLSACT)
                        r = tc_filter_replace(ic->nl, ifindex, true, prog_fd, egress_prog_name(l3));
                else
                        r = bpf_link_update(l->link_fd, prog_fd, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to switch the egress program on ifindex %d: %m",
                                               ifindex);
                l->l3 = l3;
                return 1;
        }

        a = reallocarray(ic->links, ic->n_links + 1, sizeof(InterceptLink));
        if (!a)
                return log_oom();
        ic->links = a;

        snprintf(what, sizeof(what), "the %s egress program to ifindex %d", l3 ? "layer-3" : "Ethernet",
                 ifindex);
        if (ic->mode == ATTACH_MODE_CLSACT) {
                bool created = false;

                r = tc_attach(ic, ifindex, true, prog_fd, egress_prog_name(l3), &created, what);
                if (r < 0) {
                        if (created)
                                tc_detach(ic, ifindex, true, created);
                        return r;
                }
                ic->links[ic->n_links++] = (InterceptLink) {
                        .ifindex = ifindex, .l3 = l3, .link_fd = -EBADF, .qdisc_created = created,
                };
                return 1;
        }
        fd = tcx_attach(prog_fd, ifindex, SKFP_BPF_TCX_EGRESS, what);
        if (fd < 0)
                return fd;
        ic->links[ic->n_links++] = (InterceptLink) { .ifindex = ifindex, .l3 = l3, .link_fd = fd };
        return 1;
}

int intercept_detach(Intercept *ic, int ifindex)
{
        InterceptLink *l = find_link(ic, ifindex);

        if (!l)
                return 0;
        if (ic->mode == ATTACH_MODE_CLSACT)
                tc_detach(ic, ifindex, true, l->qdisc_created);
        safe_close(l->link_fd);
        *l = ic->links[--ic->n_links];
        log_debug("Detached the egress program from ifindex %d.", ifindex);
        return 1;
}

int intercept_set_port(Intercept *ic, uint16_t port, bool managed)
{
        struct skfp_port_value v = { .flags = SKFP_PORT_INTERCEPT };
        int fd = bpf_map__fd(ic->skel->maps.intercept_ports), r;

        if (port == 0)
                return -EINVAL;
        if (managed)
                r = bpf_map_update_elem(fd, &port, &v, BPF_ANY);
        else {
                r = bpf_map_delete_elem(fd, &port);
                if (r == -ENOENT)
                        r = 0;
        }
        return r;
}

int intercept_set_cgroup(Intercept *ic, uint64_t id, unsigned level, bool selected)
{
        int fd = bpf_map__fd(ic->skel->maps.intercept_cgroups), r;
        uint32_t v = level;

        if (id == 0 || level >= SKFP_CGROUP_LEVELS)
                return -EINVAL;
        if (selected)
                return bpf_map_update_elem(fd, &id, &v, BPF_ANY);
        r = bpf_map_delete_elem(fd, &id);
        return r == -ENOENT ? 0 : r;
}

int intercept_set_selection(Intercept *ic, bool selected, uint32_t levels, bool all_ports)
{
        struct skfp_intercept_settings s = {
                .selected = selected,
                .levels = selected ? levels : 0,
                .all_ports = selected && all_ports,
        };
        uint32_t zero = 0;

        return bpf_map_update_elem(bpf_map__fd(ic->skel->maps.intercept_settings), &zero, &s, BPF_ANY);
}

int intercept_get_statistics(Intercept *ic, InterceptStatistics *ret)
{
        uint64_t sum[_SKFP_IC_MAX] = {};
        int r;

        r = bpf_percpu_counters_sum(bpf_map__fd(ic->skel->maps.intercept_counters), _SKFP_IC_MAX, sum);
        if (r < 0)
                return r;

        *ret = (InterceptStatistics) {
                .redirected_packets = sum[SKFP_IC_REDIRECTED],
                .new_flows = sum[SKFP_IC_NEW_FLOWS],
                .fail_open = sum[SKFP_IC_FAIL_OPEN],
                .assigned = sum[SKFP_IC_ASSIGNED],
                .assign_failed = sum[SKFP_IC_ASSIGN_FAILED],
                .errors = sum[SKFP_IC_ERRORS],
                .bypassed = sum[SKFP_IC_BYPASSED],
                .passed_direct = sum[SKFP_IC_PASSED_DIRECT],
                .no_socket = sum[SKFP_IC_NO_SOCKET],
                .cgroup_unselected = sum[SKFP_IC_CGROUP_UNSELECTED],
        };
        return 0;
}
