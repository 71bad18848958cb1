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
#include "skfastpath.h"

typedef struct InterceptLink {
        int ifindex;
        bool l3;
        int link_fd;
} InterceptLink;

struct Intercept {
        struct intercept_bpf *skel;
        int lo_ifindex;
        int lo_link_fd;
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

int intercept_handover(Intercept *ic, HandoverStore *store)
{
        int r;

        if (!ic)
                return 0;
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

int intercept_new(Intercept **ret, const Config *c, Handover *h)
{
        _cleanup_(intercept_freep) Intercept *ic = NULL;
        int r, fd;

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

        if (take_lo_link(ic, h) == 0) {
                fd = tcx_attach(bpf_program__fd(ic->skel->progs.skfp_lo_ingress), ic->lo_ifindex,
                                SKFP_BPF_TCX_INGRESS, "the interception program to lo ingress");
                if (fd < 0)
                        return fd;
                ic->lo_link_fd = fd;
        }
        r = take_egress_links(ic, c, h);
        if (r < 0)
                return r;

        log_debug("Interception loaded: mark 0x%x, bypass mark 0x%x, listener port %u.",
                  c->mark, c->bypass_mark, c->listen_port);
        *ret = TAKE_PTR(ic);
        return 0;
}

Intercept *intercept_free(Intercept *ic)
{
        if (!ic)
                return NULL;
        /* Closing an unpinned link detaches it. Egress first, so nothing is redirected into a lo
         * that no longer assigns. */
        for (size_t i = 0; i < ic->n_links; i++)
                safe_close(ic->links[i].link_fd);
        free(ic->links);
        safe_close(ic->lo_link_fd);
        intercept_bpf__destroy(ic->skel);
        free(ic);
        return NULL;
}

static InterceptLink *find_link(Intercept *ic, int ifindex)
{
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
