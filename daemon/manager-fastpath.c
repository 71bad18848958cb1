/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Manager's operations on fastpath receivers: port modes, trusted cgroups, and the splice
 * safety net's reports (datapath.h). Same contract as manager.c's operations: 1 changed,
 * 0 already so, -errno with nothing changed. */
#include "datapath.h"
#include "manager.h"
#include "util.h"

int manager_set_port_mode(Manager *m, uint16_t port, PortMode mode)
{
        ConfigPort *p;
        PortMode old;
        int r;

        if (port == 0 || (unsigned) mode >= _PORT_MODE_MAX)
                return -EINVAL;
        p = config_find_port(&m->config, port);
        if (!p)
                return -ENOENT;
        if (p->mode == mode)
                return 0;
        old = p->mode;
        if (m->datapath) {
                r = datapath_set_port(m->datapath, port, mode);
                if (r < 0)
                        return r;
        }
        r = config_add_port(&m->config, port, mode);
        if (r < 0 && m->datapath)
                (void) datapath_set_port(m->datapath, port, old);
        return r;
}

/* Resolves every trusted cgroup path to its id now (an absent one counts as 0 and matches
 * nothing) and hands the set to the datapath. */
int manager_sync_trusted_cgroups(Manager *m)
{
        _cleanup_free_ uint64_t *ids = NULL;

        if (!m->datapath)
                return 0;
        ids = calloc(m->config.n_trusted_cgroups + 1, sizeof(uint64_t));
        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < m->config.n_trusted_cgroups; i++)
                if (datapath_cgroup_id(m->config.trusted_cgroups[i], &ids[i]) < 0)
                        ids[i] = 0;
        return datapath_set_trusted_cgroups(m->datapath, ids, m->config.n_trusted_cgroups);
}

int manager_add_trusted_cgroup(Manager *m, const char *path)
{
        int r;

        if (!cgroup_path_valid(path))
                return -EINVAL;
        if (config_has_trusted_cgroup(&m->config, path))
                return 0;
        r = config_add_trusted_cgroup(&m->config, path);
        if (r <= 0)
                return r;
        r = manager_sync_trusted_cgroups(m);
        if (r < 0) {
                (void) config_remove_trusted_cgroup(&m->config, path);
                (void) manager_sync_trusted_cgroups(m);
                return r;
        }
        return 1;
}

int manager_remove_trusted_cgroup(Manager *m, const char *path)
{
        int r;

        if (!cgroup_path_valid(path))
                return -EINVAL;
        if (!config_has_trusted_cgroup(&m->config, path))
                return -ENOENT;
        r = config_remove_trusted_cgroup(&m->config, path);
        if (r <= 0)
                return r;
        r = manager_sync_trusted_cgroups(m);
        if (r < 0) {
                (void) config_add_trusted_cgroup(&m->config, path);
                (void) manager_sync_trusted_cgroups(m);
                return r;
        }
        return 1;
}

void manager_trusted_cgroup_status(Manager *m, const char *path, uint64_t *ret_id, bool *ret_present)
{
        uint64_t id = 0;

        *ret_present = datapath_cgroup_id(path, &id) >= 0;
        *ret_id = *ret_present ? id : 0;
}

static int on_splice_events(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;

        if (m->datapath)
                datapath_splice_process(m->datapath);
        return 0;
}

int manager_fastpath_start(Manager *m)
{
        int fd, r;

        if (!m->datapath)
                return 0;
        r = manager_sync_trusted_cgroups(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set the trusted cgroups: %m");
        for (size_t i = 0; i < m->config.n_trusted_cgroups; i++) {
                uint64_t id;
                bool present;

                manager_trusted_cgroup_status(m, m->config.trusted_cgroups[i], &id, &present);
                if (!present)
                        log_notice("Trusted cgroup %s does not exist (yet): its sockets are no receivers until "
                                   "it is added again or the daemon restarts.", m->config.trusted_cgroups[i]);
        }
        /* the ring buffer of the splice safety net, when it runs (it logs each report itself) */
        fd = datapath_splice_fd(m->datapath);
        if (fd < 0)
                return 0;
        r = sd_event_add_io(m->event, NULL, fd, EPOLLIN, on_splice_events, m);
        if (r < 0)
                log_warning_errno(r, "Failed to watch the splice detection's reports, ignoring: %m");
        return 0;
}
