/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <systemd/sd-daemon.h>

#include "handover.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define BUS_TIMEOUT_USEC (2 * 1000000ULL)
#define SYNC_TIMEOUT_USEC (5 * 1000000ULL)

typedef struct PassedFd {
        int fd;             /* -EBADF once taken */
        char *name;
        bool ours;
} PassedFd;

struct Handover {
        PassedFd *fds;
        size_t n_fds;
};

struct HandoverStore {
        char **names;       /* stored so far, for handover_store_undo() */
        size_t n_names;
};

int handover_new(Handover **ret)
{
        _cleanup_(handover_freep) Handover *h = NULL;
        char **names = NULL;
        int n;

        h = calloc(1, sizeof(Handover));
        if (!h)
                return log_oom();

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to read the file descriptors passed by systemd: %m");
        if (n > 0) {
                h->fds = calloc((size_t) n, sizeof(PassedFd));
                if (!h->fds) {
                        for (int i = 0; i < n; i++) {
                                safe_close(SD_LISTEN_FDS_START + i);
                                free(names[i]);
                        }
                        free(names);
                        return log_oom();
                }
        }
        for (int i = 0; i < n; i++) {
                PassedFd *p = &h->fds[h->n_fds++];

                p->fd = SD_LISTEN_FDS_START + i;
                p->name = names[i];
                p->ours = p->name && strncmp(p->name, HANDOVER_PREFIX, strlen(HANDOVER_PREFIX)) == 0;
                (void) fcntl(p->fd, F_SETFD, FD_CLOEXEC);
        }
        free(names);

        if (handover_n_stored(h) > 0)
                log_info("Taking back %zu file descriptor(s) from the service manager's store (a restart).",
                         handover_n_stored(h));
        *ret = TAKE_PTR(h);
        return 0;
}

Handover *handover_free(Handover *h)
{
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_fds; i++) {
                if (h->fds[i].fd >= 0 && h->fds[i].ours)
                        log_debug("Closing the unused stored file descriptor %s.", h->fds[i].name);
                safe_close(h->fds[i].fd);
                free(h->fds[i].name);
        }
        free(h->fds);
        free(h);
        return NULL;
}

int handover_take_listener(Handover *h)
{
        for (size_t i = 0; h && i < h->n_fds; i++)
                if (!h->fds[i].ours && h->fds[i].fd >= 0)
                        return TAKE_FD(h->fds[i].fd);
        return -ENOENT;
}

int handover_take(Handover *h, const char *name)
{
        for (size_t i = 0; h && i < h->n_fds; i++)
                if (h->fds[i].ours && h->fds[i].fd >= 0 && streq(h->fds[i].name, name))
                        return TAKE_FD(h->fds[i].fd);
        return -ENOENT;
}

int handover_take_prefix(Handover *h, const char *prefix, const char **ret_name)
{
        for (size_t i = 0; h && i < h->n_fds; i++)
                if (h->fds[i].ours && h->fds[i].fd >= 0 &&
                    strncmp(h->fds[i].name, prefix, strlen(prefix)) == 0) {
                        *ret_name = h->fds[i].name;
                        return TAKE_FD(h->fds[i].fd);
                }
        return -ENOENT;
}

size_t handover_n_stored(const Handover *h)
{
        size_t n = 0;

        for (size_t i = 0; h && i < h->n_fds; i++)
                n += h->fds[i].ours;
        return n;
}

static void store_remove(const char *name)
{
        _cleanup_free_ char *msg = NULL;
        int r;

        if (asprintf(&msg, "FDSTOREREMOVE=1\nFDNAME=%s", name) < 0) {
                log_oom();
                return;
        }
        r = sd_notify(false, msg);
        if (r < 0)
                log_warning_errno(r, "Failed to remove %s from the service manager's store, ignoring: %m", name);
}

void handover_release(Handover *h)
{
        bool removed = false;

        for (size_t i = 0; h && i < h->n_fds; i++) {
                PassedFd *p = &h->fds[i];

                if (!p->ours)
                        continue;
                /* several fds may share a name: one removal takes them all */
                for (size_t j = 0; j < i; j++)
                        if (h->fds[j].ours && streq(h->fds[j].name, p->name))
                                goto next;
                store_remove(p->name);
                removed = true;
        next:
                if (p->fd >= 0) {
                        log_debug("Closing the unused stored file descriptor %s.", p->name);
                        p->fd = safe_close(p->fd);
                }
        }
        if (removed)
                log_debug("Released the service manager's store.");
}

static int unit_path(sd_bus *bus, char **ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_message_new_method_call(bus, &req, SYSTEMD_DEST, SYSTEMD_PATH,
                                           "org.freedesktop.systemd1.Manager", "GetUnitByPID");
        if (r >= 0)
                r = sd_bus_message_append(req, "u", (uint32_t) getpid());
        if (r >= 0)
                r = sd_bus_call(bus, req, BUS_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                return log_debug_errno(r, "Cannot ask systemd for our unit (%s): %m",
                                       error.message ?: "no reply");
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        *ret = strdup(path);
        return *ret ? 0 : -ENOMEM;
}

static int get_property(sd_bus *bus, const char *path, const char *iface, const char *name, const char *type,
                        sd_bus_message **ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &req, SYSTEMD_DEST, path, "org.freedesktop.DBus.Properties", "Get");
        if (r >= 0)
                r = sd_bus_message_append(req, "ss", iface, name);
        if (r >= 0)
                r = sd_bus_call(bus, req, BUS_TIMEOUT_USEC, &error, ret);
        if (r < 0)
                return log_debug_errno(r, "Cannot read %s.%s of %s (%s): %m", iface, name, path,
                                       error.message ?: "no reply");
        return sd_bus_message_enter_container(*ret, 'v', type);
}

int handover_restart_pending(sd_bus *bus, unsigned n_needed)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *job = NULL, *type = NULL, *max = NULL;
        _cleanup_free_ char *path = NULL;
        const char *job_path, *job_type;
        uint32_t job_id, store_max;

        if (!getenv("NOTIFY_SOCKET") || !bus) {
                log_debug("Not started by systemd (no NOTIFY_SOCKET): a stop, not a restart handover.");
                return 0;
        }
        /* The job says what systemd is doing with us: a "stop" ends with the store dropped, a
         * "restart" passes it to the next process. */
        if (unit_path(bus, &path) < 0)
                return 0;
        if (get_property(bus, path, "org.freedesktop.systemd1.Unit", "Job", "(uo)", &job) < 0 ||
            sd_bus_message_read(job, "(uo)", &job_id, &job_path) < 0)
                return 0;
        if (job_id == 0) {
                log_debug("No systemd job for our unit (SIGTERM from outside a job): a stop.");
                return 0;
        }
        if (get_property(bus, job_path, "org.freedesktop.systemd1.Job", "JobType", "s", &type) < 0 ||
            sd_bus_message_read(type, "s", &job_type) < 0)
                return 0;
        if (!streq(job_type, "restart") && !streq(job_type, "try-restart")) {
                log_debug("systemd job %u is a %s: a stop.", job_id, job_type);
                return 0;
        }
        if (get_property(bus, path, "org.freedesktop.systemd1.Service", "FileDescriptorStoreMax", "u", &max) < 0 ||
            sd_bus_message_read(max, "u", &store_max) < 0)
                return 0;
        if (store_max < n_needed) {
                log_warning("Restarting, but FileDescriptorStoreMax=%u has no room for the %u entries the "
                            "datapath and relay need: stopping instead, relayed connections are closed.",
                            store_max, n_needed);
                return 0;
        }
        log_debug("systemd job %u is a %s, the store has room for %u: handing over.", job_id, job_type,
                  store_max);
        return 1;
}

int handover_store_new(HandoverStore **ret)
{
        HandoverStore *s = calloc(1, sizeof(HandoverStore));

        if (!s)
                return log_oom();
        *ret = s;
        return 0;
}

HandoverStore *handover_store_free(HandoverStore *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_names; i++)
                free(s->names[i]);
        free(s->names);
        free(s);
        return NULL;
}

int handover_store_add(HandoverStore *s, const char *name, int fd)
{
        _cleanup_free_ char *msg = NULL, *copy = NULL;
        char **a;
        int r;

        if (asprintf(&msg, "FDSTORE=1\nFDPOLL=0\nFDNAME=%s", name) < 0)
                return log_oom();
        copy = strdup(name);
        if (!copy)
                return log_oom();
        a = reallocarray(s->names, s->n_names + 1, sizeof(char *));
        if (!a)
                return log_oom();
        s->names = a;

        r = sd_pid_notify_with_fds(0, false, msg, &fd, 1);
        if (r == 0)
                r = -ENOTCONN;
        if (r < 0)
                return log_error_errno(r, "Failed to hand %s to the service manager's store: %m", name);
        s->names[s->n_names++] = TAKE_PTR(copy);
        return 0;
}

int handover_store_sync(HandoverStore *s)
{
        int r = sd_notify_barrier(false, SYNC_TIMEOUT_USEC);

        if (r < 0)
                return log_warning_errno(r, "The service manager did not confirm the stored file descriptors: %m");
        return 0;
}

void handover_store_undo(HandoverStore *s)
{
        for (size_t i = 0; i < s->n_names; i++) {
                bool dup = false;

                for (size_t j = 0; j < i; j++)
                        dup = dup || streq(s->names[j], s->names[i]);
                if (!dup)
                        store_remove(s->names[i]);
        }
        for (size_t i = 0; i < s->n_names; i++)
                free(s->names[i]);
        s->n_names = 0;
}
