/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The operations behind the D-Bus methods, and the glue between link tracking (link.h) and
 * interception. Each one changes the datapath rooms and the effective config together, or
 * nothing. */
#include "bus-manager.h"
#include "cgroup-set.h"
#include "cgroup-util.h"
#include "datapath.h"
#include "intercept.h"
#include "link.h"
#include "manager.h"
#include "rtnl.h"
#include "state.h"

static int link_attach(void *userdata, int ifindex, unsigned short arphrd)
{
        Manager *m = userdata;

        return intercept_attach(m->intercept, ifindex, arphrd);
}

static int link_detach(void *userdata, int ifindex)
{
        Manager *m = userdata;

        return intercept_detach(m->intercept, ifindex);
}

static bool link_is_live(void *userdata, int ifindex)
{
        Manager *m = userdata;

        return intercept_is_live(m->intercept, ifindex);
}

static const LinkOps intercept_link_ops = {
        .attach = link_attach,
        .detach = link_detach,
        .is_live = link_is_live,
};

/* Without interception (it failed to start) links are only tracked. */
static const LinkOps presence_link_ops = {};

int manager_track_links(Manager *m)
{
        int r;

        r = link_set_new(&m->links, m->intercept ? &intercept_link_ops : &presence_link_ops, m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->config.n_interfaces; i++) {
                r = link_set_add(m->links, m->config.interfaces[i], NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

void manager_on_rtnl_link(void *userdata, const RtnlLink *ev)
{
        Manager *m = userdata;

        /* what the kernel changed: the bus methods announce their own changes */
        if (m->links && link_set_handle(m->links, ev) > 0)
                (void) bus_manager_emit_changed(m, "Interfaces");
}

static int cgroup_select(void *userdata, uint64_t id, unsigned level, bool selected)
{
        Manager *m = userdata;

        if (!m->intercept)
                return 0;
        return intercept_set_cgroup(m->intercept, id, level, selected);
}

static void cgroup_changed(void *userdata)
{
        Manager *m = userdata;

        /* what the cgroup tree changed: the bus methods announce their own changes */
        manager_update_selection(m);
        (void) bus_manager_emit_changed(m, "Cgroups");
}

static const CgroupOps cgroup_ops = {
        .select = cgroup_select,
        .changed = cgroup_changed,
};

void manager_update_selection(Manager *m)
{
        int r;

        if (!m->intercept)
                return;
        r = intercept_set_selection(m->intercept, m->config.n_cgroups > 0, cgroup_set_levels(m->cgroups),
                                    m->config.n_ports == 0);
        if (r < 0)
                log_warning_errno(r, "Failed to update the cgroup selection of interception: %m");
}

int manager_track_cgroups(Manager *m)
{
        _cleanup_free_ char *root = NULL;
        int r;

        r = cgroup2_root_find(&root);
        if (r < 0) {
                if (m->config.n_cgroups > 0)
                        log_warning_errno(r, "No cgroup2 mount found, the selected cgroups stay absent: %m");
                manager_update_selection(m);
                return 0;
        }
        r = cgroup_set_new(&m->cgroups, root, &cgroup_ops, m);
        if (r < 0)
                return r;
        r = cgroup_set_attach_event(m->cgroups, m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the cgroup tree under %s: %m", root);
        for (size_t i = 0; i < m->config.n_cgroups; i++) {
                r = cgroup_set_add(m->cgroups, m->config.cgroups[i]);
                if (r < 0)
                        return r;
        }
        manager_update_selection(m);
        return 0;
}

uint64_t manager_cgroup_id(Manager *m, const char *path)
{
        const CgroupEntry *e = cgroup_set_find(m->cgroups, path);

        return e ? e->id : 0;
}

int manager_add_cgroup(Manager *m, const char *path)
{
        int r;

        if (config_cgroup_invalid_reason(path))
                return -EINVAL;
        if (config_has_cgroup(&m->config, path))
                return 0;
        if (m->config.n_cgroups >= m->config.max_cgroups)
                return -E2BIG;
        r = config_add_cgroup(&m->config, path);
        if (r < 0)
                return r;
        if (m->cgroups) {
                r = cgroup_set_add(m->cgroups, path);
                if (r < 0) {
                        config_remove_cgroup(&m->config, path);
                        return r;
                }
        }
        manager_update_selection(m);
        return 1;
}

int manager_remove_cgroup(Manager *m, const char *path)
{
        if (config_cgroup_invalid_reason(path))
                return -EINVAL;
        if (!config_has_cgroup(&m->config, path))
                return -ENOENT;
        if (m->cgroups)
                (void) cgroup_set_remove(m->cgroups, path);
        config_remove_cgroup(&m->config, path);
        manager_update_selection(m);
        return 1;
}

void manager_interface_status(Manager *m, const char *name, int *ret_ifindex, bool *ret_attached)
{
        Link *l = m->links ? link_set_find(m->links, name) : NULL;

        *ret_ifindex = l ? l->ifindex : 0;
        *ret_attached = l ? l->attached : false;
}

int manager_add_interface(Manager *m, const char *name)
{
        RtnlLink link;
        int r;

        if (config_interface_invalid_reason(name))
                return -EINVAL;
        if (config_has_interface(&m->config, name))
                return 0;
        if (m->config.n_interfaces >= m->config.max_interfaces)
                return -E2BIG;

        /* A name that may not exist yet: attached now when it does, else when it appears. */
        r = config_add_interface(&m->config, name);
        if (r < 0)
                return r;
        if (m->links) {
                r = link_set_add(m->links, name, NULL);
                if (r < 0) {
                        config_remove_interface(&m->config, name);
                        return r;
                }
                /* the caller announces the change */
                if (rtnl_get_link(name, &link) >= 0)
                        (void) link_set_handle(m->links, &link);
        }
        return 1;
}

int manager_remove_interface(Manager *m, const char *name)
{
        if (!ifname_valid(name))
                return -EINVAL;
        if (!config_has_interface(&m->config, name))
                return -ENOENT;
        if (m->links)
                (void) link_set_remove(m->links, name);
        return config_remove_interface(&m->config, name);
}

/* Intercepts port in mode (a new port) or switches its mode. */
static int manager_set_port(Manager *m, uint16_t port, PortMode mode)
{
        ConfigPort *p = config_find_port(&m->config, port);
        int r;

        if (port == 0)
                return -EINVAL;
        if (p && p->mode == mode)
                return 0;
        if (!p && m->config.n_ports >= m->config.max_ports)
                return -E2BIG;
        if (m->datapath) {
                r = datapath_set_port(m->datapath, port, mode);
                if (r < 0)
                        return r;
        }
        if (p) {
                p->mode = mode;
                return 1;
        }
        if (m->intercept) {
                r = intercept_set_port(m->intercept, port, true);
                if (r < 0)
                        goto undo_datapath;
        }
        r = config_add_port(&m->config, port, mode);
        if (r >= 0) {
                manager_update_selection(m);
                return 1;
        }
        if (m->intercept)
                (void) intercept_set_port(m->intercept, port, false);
undo_datapath:
        if (m->datapath)
                (void) datapath_remove_port(m->datapath, port);
        return r;
}

int manager_add_port(Manager *m, uint16_t port)
{
        /* a port of InterceptOnlyPorts= keeps its mode */
        if (port != 0 && config_find_port(&m->config, port))
                return 0;
        return manager_set_port(m, port, PORT_MODE_FASTPATH);
}

int manager_remove_port(Manager *m, uint16_t port)
{
        ConfigPort *p;
        int r;

        if (port == 0)
                return -EINVAL;
        p = config_find_port(&m->config, port);
        if (!p)
                return -ENOENT;
        /* interception first: a refusal there leaves both as they were */
        if (m->intercept) {
                r = intercept_set_port(m->intercept, port, false);
                if (r < 0)
                        return r;
        }
        if (m->datapath) {
                r = datapath_remove_port(m->datapath, port);
                if (r < 0) {
                        if (m->intercept)
                                (void) intercept_set_port(m->intercept, port, true);
                        return r;
                }
        }
        r = config_remove_port(&m->config, port);
        manager_update_selection(m);
        return r;
}

int manager_set_fastpath(Manager *m, bool enabled)
{
        if (m->config.fastpath == enabled)
                return 0;
        if (m->datapath) {
                int r = datapath_set_fastpath(m->datapath, enabled);
                if (r < 0)
                        return r;
        }
        m->config.fastpath = enabled;
        return 1;
}

/* Makes the runtime sets (interfaces, ports and their modes, the switch) those of target, one
 * operation at a time; on failure the ones done stay done. */
static int manager_apply_sets(Manager *m, const Config *target, unsigned *changed)
{
        int r;

        for (size_t i = m->config.n_interfaces; i > 0; i--) {
                const char *name = m->config.interfaces[i - 1];

                if (config_has_interface(target, name))
                        continue;
                r = manager_remove_interface(m, name);
                if (r < 0)
                        return r;
                *changed |= MANAGER_CHANGED_INTERFACES;
        }
        for (size_t i = 0; i < target->n_interfaces; i++) {
                r = manager_add_interface(m, target->interfaces[i]);
                if (r < 0)
                        return r;
                if (r > 0)
                        *changed |= MANAGER_CHANGED_INTERFACES;
        }

        for (size_t i = m->config.n_ports; i > 0; i--) {
                uint16_t port = m->config.ports[i - 1].port;

                if (config_find_port(target, port))
                        continue;
                r = manager_remove_port(m, port);
                if (r < 0)
                        return r;
                *changed |= MANAGER_CHANGED_PORTS;
        }
        for (size_t i = 0; i < target->n_ports; i++) {
                r = manager_set_port(m, target->ports[i].port, target->ports[i].mode);
                if (r < 0)
                        return r;
                if (r > 0)
                        *changed |= MANAGER_CHANGED_PORTS;
        }

        for (size_t i = m->config.n_cgroups; i > 0; i--) {
                const char *path = m->config.cgroups[i - 1];

                if (config_has_cgroup(target, path))
                        continue;
                r = manager_remove_cgroup(m, path);
                if (r < 0)
                        return r;
                *changed |= MANAGER_CHANGED_CGROUPS;
        }
        for (size_t i = 0; i < target->n_cgroups; i++) {
                r = manager_add_cgroup(m, target->cgroups[i]);
                if (r < 0)
                        return r;
                if (r > 0)
                        *changed |= MANAGER_CHANGED_CGROUPS;
        }

        for (size_t i = m->config.n_trusted_cgroups; i > 0; i--) {
                const char *path = m->config.trusted_cgroups[i - 1];

                if (config_has_trusted_cgroup(target, path))
                        continue;
                r = manager_remove_trusted_cgroup(m, path);
                if (r < 0)
                        return r;
                *changed |= MANAGER_CHANGED_TRUSTED_CGROUPS;
        }
        for (size_t i = 0; i < target->n_trusted_cgroups; i++) {
                r = manager_add_trusted_cgroup(m, target->trusted_cgroups[i]);
                if (r < 0)
                        return r;
                if (r > 0)
                        *changed |= MANAGER_CHANGED_TRUSTED_CGROUPS;
        }

        r = manager_set_fastpath(m, target->fastpath);
        if (r < 0)
                return r;
        if (r > 0)
                *changed |= MANAGER_CHANGED_FASTPATH;
        return 0;
}

int manager_revert(Manager *m, unsigned *ret_changed)
{
        _cleanup_(config_done) Config before;
        unsigned changed = 0, undone = 0;
        int r;

        config_init(&before);
        r = state_copy(&before, &m->config);
        if (r < 0)
                return r;

        r = manager_apply_sets(m, &m->config_file, &changed);
        if (r >= 0) {
                r = state_remove(m->state_directory);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove the state file in %s: %m", m->state_directory);
        }
        if (r < 0) {
                /* the way back only undoes what was done: it needs no new kernel resources */
                int q = manager_apply_sets(m, &before, &undone);

                if (q < 0)
                        log_error_errno(q, "Failed to undo a failed revert, the runtime state is partly "
                                        "the config file's: %m");
                return r;
        }
        *ret_changed = changed;
        return changed != 0 || r > 0;
}
