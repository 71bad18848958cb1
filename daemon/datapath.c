/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fastpath room: loads bpf/fastpath.bpf.c, attaches sockops to a cgroup v2 and sk_msg to the
 * sockhash, and keeps maps and the cgroup link pinned so that a restarted daemon adopts the
 * running datapath instead of stacking a second copy next to it. */
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf-util.h"
#include "cgroup-util.h"
#include "datapath.h"
#include "fastpath.skel.h"
#include "fs-util.h"
#include "skfastpath.h"
#include "receiver.skel.h"
#include "util.h"

#define BPFFS_ROOT "/sys/fs/bpf"
#define SOCKOPS_LINK_NAME "sockops_link"

struct Datapath {
        struct fastpath_bpf *skel;
        struct bpf_link *sockops_link;
        char *pin_directory;
        char *cgroup_path;
        int cgroup_fd;
        bool adopted;               /* some pin of a previous run was reused */
        struct receiver_bpf *splice; /* the splice safety net, NULL when it could not load */
        struct ring_buffer *splice_events;
        SpliceDetection splice_state;
        char spliced_comms[64][16];  /* programs already logged (one line per program) */
        size_t n_spliced_comms;
        DatapathSpliceHandler splice_handler;
        void *splice_userdata;
};

/* A fresh machine may have no bpffs: mount it where everyone expects it. */
static int bpffs_ensure(void)
{
        if (path_is_fs_type(BPFFS_ROOT, BPF_FS_MAGIC))
                return 0;
        if (mkdir(BPFFS_ROOT, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", BPFFS_ROOT);
        if (mount("bpffs", BPFFS_ROOT, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
                return log_error_errno(errno, "No bpf filesystem on %s, and mounting one failed (mount it "
                                       "before starting skfastpathd: mount -t bpf bpffs %s): %m",
                                       BPFFS_ROOT, BPFFS_ROOT);
        log_info("Mounted bpffs on %s.", BPFFS_ROOT);
        return 0;
}

/* Creates the pin directory and its parents, but only on a bpf filesystem: a typo in
 * PinDirectory= must not leave directories behind elsewhere. */
static int pin_directory_ensure(const char *dir)
{
        _cleanup_free_ char *p = NULL;
        char *slash;
        int r;

        if (!dir || dir[0] != '/')
                return log_error_errno(EINVAL, "PinDirectory= must be an absolute path.");
        if (strncmp(dir, BPFFS_ROOT "/", strlen(BPFFS_ROOT "/")) == 0) {
                r = bpffs_ensure();
                if (r < 0)
                        return r;
        }

        p = strdup(dir);
        if (!p)
                return log_oom();
        /* Find the deepest existing ancestor and check its filesystem before creating anything. */
        for (;;) {
                struct stat st;

                if (stat(p, &st) >= 0) {
                        if (!S_ISDIR(st.st_mode))
                                return log_error_errno(ENOTDIR, "PinDirectory=%s: %s is not a directory.",
                                                       dir, p);
                        break;
                }
                if (errno != ENOENT)
                        return log_error_errno(errno, "Failed to check %s: %m", p);
                slash = strrchr(p, '/');
                if (!slash || slash == p)
                        return log_error_errno(ENOENT, "PinDirectory=%s: no existing ancestor.", dir);
                *slash = 0;
        }
        if (!path_is_fs_type(p, BPF_FS_MAGIC))
                return log_error_errno(EINVAL, "PinDirectory=%s is not on a bpf filesystem (%s is not).",
                                       dir, p);

        /* Now create the missing components from the existing ancestor down. */
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", dir);
        return 0;
}

static int cgroup_id_of_fd(int fd, uint64_t *ret)
{
        struct {
                struct file_handle fh;
                uint64_t id;
        } h = { .fh.handle_bytes = sizeof(uint64_t) };
        int mnt_id;

        if (name_to_handle_at(fd, "", &h.fh, &mnt_id, AT_EMPTY_PATH) < 0)
                return -errno;
        memcpy(ret, h.fh.f_handle, sizeof(uint64_t));
        return 0;
}

static int pin_path(const Datapath *d, const char *name, char **ret)
{
        if (asprintf(ret, "%s/%s", d->pin_directory, name) < 0)
                return log_oom();
        return 0;
}

#define N_PINNED_MAPS 8

static void pinned_maps(const Datapath *d, struct bpf_map *ret[static N_PINNED_MAPS])
{
        ret[0] = d->skel->maps.sockhash;
        ret[1] = d->skel->maps.ports;
        ret[2] = d->skel->maps.settings;
        ret[3] = d->skel->maps.conns;
        ret[4] = d->skel->maps.counters;
        ret[5] = d->skel->maps.receivers;
        ret[6] = d->skel->maps.trusted_cgroups;
        ret[7] = d->skel->maps.queues;
}

/* Before load: a compatible pinned map is reused (bpf_map__set_pin_path makes libbpf adopt it),
 * a missing one is created and pinned at load. An incompatible one (MaxSockets= changed, an
 * older layout) is replaced after a successful load; returns 1 in that case. Sockets still in
 * a replaced sockhash keep working: the programs attached to them hold the old maps. */
static int map_pin_prepare(Datapath *d, struct bpf_map *map, bool *ret_adopted)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct bpf_map_info info = {};
        uint32_t len = sizeof(info);
        int r;

        r = pin_path(d, bpf_map__name(map), &path);
        if (r < 0)
                return r;

        fd = bpf_obj_get(path);
        if (fd < 0) {
                if (errno != ENOENT)
                        return log_error_errno(errno, "Failed to open pinned map %s: %m", path);
                *ret_adopted = false;
                r = bpf_map__set_pin_path(map, path);
                return r < 0 ? log_error_errno(r, "Failed to set pin path %s: %m", path) : 0;
        }

        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                return log_error_errno(errno, "Failed to query pinned map %s: %m", path);
        if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
            info.value_size != bpf_map__value_size(map) || info.max_entries != bpf_map__max_entries(map) ||
            info.map_flags != bpf_map__map_flags(map)) {
                log_notice("Pinned map %s does not match this configuration (max_entries %u, wanted %u), "
                           "replacing it.", path, info.max_entries, bpf_map__max_entries(map));
                *ret_adopted = false;
                return 1;
        }

        r = bpf_map__set_pin_path(map, path);
        if (r < 0)
                return log_error_errno(r, "Failed to set pin path %s: %m", path);
        *ret_adopted = true;
        return 0;
}

static int settings_read(Datapath *d, struct skfp_settings *ret)
{
        uint32_t zero = 0;

        if (bpf_map__lookup_elem(d->skel->maps.settings, &zero, sizeof(zero), ret, sizeof(*ret), 0) < 0)
                return log_error_errno(errno, "Failed to read the fastpath settings: %m");
        return 0;
}

/* sk_msg judges a large write in pieces of at most about 512 KiB here (17 scatterlist
 * fragments): a larger threshold would never be reached. */
#define PASS_LARGE_WRITES_MAX (256 * 1024)

static void pass_large_writes_check(uint64_t threshold)
{
        if (threshold > PASS_LARGE_WRITES_MAX)
                log_warning("PassLargeWrites=%llu: sk_msg sees large writes in pieces of about 512K, "
                            "a threshold above %u may never be reached.",
                            (unsigned long long) threshold, PASS_LARGE_WRITES_MAX);
}

static int settings_write(Datapath *d, const struct skfp_settings *s)
{
        uint32_t zero = 0;

        if (bpf_map__update_elem(d->skel->maps.settings, &zero, sizeof(zero), s, sizeof(*s), BPF_ANY) < 0)
                return log_error_errno(errno, "Failed to write the fastpath settings: %m");
        return 0;
}

static uint32_t port_flags(PortMode mode)
{
        switch (mode) {
        case PORT_MODE_FASTPATH:
                return SKFP_PORT_INTERCEPT | SKFP_PORT_FASTPATH;
        case PORT_MODE_TRUSTED:
                return SKFP_PORT_INTERCEPT | SKFP_PORT_FASTPATH | SKFP_PORT_TRUSTED;
        default:
                return SKFP_PORT_INTERCEPT;
        }
}

/* An adopted port map may hold ports the configuration no longer has. */
static int ports_sync(Datapath *d, const Config *c)
{
        struct bpf_map *map = d->skel->maps.ports;
        uint16_t key, next, *prev = NULL;
        int r;

        while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) >= 0) {
                key = next;
                prev = &key;
                if (config_find_port(c, key))
                        continue;
                r = datapath_remove_port(d, key);
                if (r < 0)
                        return r;
                /* The iteration restarts: the deleted key cannot be the cursor. */
                prev = NULL;
        }
        for (size_t i = 0; i < c->n_ports; i++) {
                r = datapath_set_port(d, c->ports[i].port, c->ports[i].mode);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int sockops_link_new(Datapath *d, const char *path)
{
        struct bpf_link *link;
        int r;

        link = bpf_program__attach_cgroup(d->skel->progs.skfp_sockops, d->cgroup_fd);
        if (!link)
                return log_error_errno(errno, "Failed to attach sockops to cgroup %s: %m", d->cgroup_path);
        r = bpf_link__pin(link, path);
        if (r < 0) {
                bpf_link__destroy(link);
                return log_error_errno(r, "Failed to pin the sockops link at %s: %m", path);
        }
        d->sockops_link = link;
        return 0;
}

/* A pinned link on our cgroup gets the new program in one atomic step (no window without
 * sockops, no second attachment); a link left on another cgroup (CgroupPath= changed) or on a
 * removed one is detached and replaced. */
static int sockops_attach(Datapath *d)
{
        _cleanup_free_ char *path = NULL;
        struct bpf_link_info info = {};
        uint32_t len = sizeof(info);
        struct bpf_link *link;
        uint64_t cgroup_id = 0;
        int r;

        r = pin_path(d, SOCKOPS_LINK_NAME, &path);
        if (r < 0)
                return r;

        if (access(path, F_OK) < 0) {
                if (errno != ENOENT)
                        return log_error_errno(errno, "Failed to check pinned link %s: %m", path);
                return sockops_link_new(d, path);
        }
        link = bpf_link__open(path);
        if (!link)
                return log_error_errno(errno, "Failed to open pinned link %s: %m", path);

        if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) < 0) {
                r = log_error_errno(errno, "Failed to query pinned link %s: %m", path);
                bpf_link__destroy(link);
                return r;
        }
        (void) cgroup_id_of_fd(d->cgroup_fd, &cgroup_id);
        if (info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.attach_type == BPF_CGROUP_SOCK_OPS &&
            info.cgroup.cgroup_id != 0 && info.cgroup.cgroup_id == cgroup_id) {
                r = bpf_link__update_program(link, d->skel->progs.skfp_sockops);
                if (r < 0) {
                        bpf_link__destroy(link);
                        return log_error_errno(r, "Failed to update the pinned sockops link %s: %m", path);
                }
                d->sockops_link = link;
                d->adopted = true;
                return 0;
        }

        log_notice("Pinned sockops link %s is not on cgroup %s, replacing it.", path, d->cgroup_path);
        (void) bpf_link__detach(link);
        r = bpf_link__unpin(link);
        bpf_link__destroy(link);
        if (r < 0)
                return log_error_errno(r, "Failed to unpin %s: %m", path);
        return sockops_link_new(d, path);
}

static int on_splice_event(void *ctx, void *data, size_t size)
{
        Datapath *d = ctx;
        const struct skfp_splice_event *e = data;
        char comm[sizeof(e->comm) + 1] = {};

        if (size < sizeof(*e))
                return 0;
        memcpy(comm, e->comm, sizeof(e->comm));
        for (size_t i = 0; i < d->n_spliced_comms; i++)
                if (strncmp(d->spliced_comms[i], comm, sizeof(d->spliced_comms[i])) == 0) {
                        log_debug("%s[%u] read a fastpath receiver on port %u with splice() (again).", comm,
                                  e->pid, e->local_port);
                        goto report;
                }
        if (d->n_spliced_comms < ELEMENTSOF(d->spliced_comms))
                strncpy(d->spliced_comms[d->n_spliced_comms++], comm, sizeof(d->spliced_comms[0]));
        log_warning("%s[%u] read a fastpath receiver on port %u with splice(): its connections now pass "
                    "through TCP; data redirected to it before this splice may be lost (see HAZARDS in "
                    "skfastpathd(8)).", comm, e->pid, e->local_port);
report:
        if (d->splice_handler)
                d->splice_handler(d, e->pid, comm, e->local_port, d->splice_userdata);
        return 0;
}

static int splice_try(Datapath *d, bool syscall)
{
        int r;

        d->splice = receiver_bpf__open();
        if (!d->splice)
                return -errno;
        /* the kprobe, or the system call fallback: one of them */
        r = bpf_program__set_autoload(d->splice->progs.skfp_splice_read, !syscall);
        if (r >= 0)
                r = bpf_program__set_autoload(d->splice->progs.skfp_splice_syscall, syscall);
        d->splice->rodata->splice_nr = SYS_splice;
        if (r >= 0)
                r = bpf_map__reuse_fd(d->splice->maps.counters, bpf_map__fd(d->skel->maps.counters));
        if (r >= 0)
                r = bpf_map__reuse_fd(d->splice->maps.queues, bpf_map__fd(d->skel->maps.queues));
        if (r >= 0)
                r = receiver_bpf__load(d->splice);
        if (r >= 0)
                r = receiver_bpf__attach(d->splice);
        if (r >= 0) {
                d->splice_events = ring_buffer__new(bpf_map__fd(d->splice->maps.splice_events),
                                                    on_splice_event, d, NULL);
                if (!d->splice_events)
                        r = -errno;
        }
        if (r < 0) {
                ring_buffer__free(d->splice_events);
                d->splice_events = NULL;
                receiver_bpf__destroy(d->splice);
                d->splice = NULL;
        }
        return r;
}

/* The safety net is optional: without it the fastpath runs, and the statistics say so. */
static void splice_attach(Datapath *d)
{
        int r;

        r = splice_try(d, false);
        if (r < 0) {
                log_debug_errno(r, "No kprobe on tcp_splice_read (%m), trying the splice() system call.");
                r = splice_try(d, true);
        }
        if (r < 0) {
                d->splice_state = SPLICE_DETECTION_FAILED;
                log_warning_errno(r, "Failed to load or attach the splice detection (a kprobe on tcp_splice_read, "
                                  "or a raw tracepoint on system call entry), running without it: a declared "
                                  "receiver read with splice() is not detected (see HAZARDS in "
                                  "skfastpathd(8)): %m");
                return;
        }
        d->splice_state = SPLICE_DETECTION_ON;
}

int datapath_new(Datapath **ret, const Config *c)
{
        _cleanup_(datapath_freep) Datapath *d = NULL;
        bool created[N_PINNED_MAPS] = {}, replace[N_PINNED_MAPS] = {};
        struct bpf_map *maps[N_PINNED_MAPS] = {};
        int r;

        d = calloc(1, sizeof(Datapath));
        if (!d)
                return log_oom();
        d->cgroup_fd = -EBADF;

        d->pin_directory = strdup(c->pin_directory ?: DEFAULT_PIN_DIRECTORY);
        if (!d->pin_directory)
                return log_oom();
        if (c->cgroup_path) {
                d->cgroup_path = strdup(c->cgroup_path);
                if (!d->cgroup_path)
                        return log_oom();
        } else {
                r = cgroup2_root_find(&d->cgroup_path);
                if (r == -ENOENT)
                        return log_error_errno(r, "No cgroup2 filesystem is mounted (none in /proc/self/mountinfo): "
                                               "mount one (mount -t cgroup2 none /sys/fs/cgroup) or set CgroupPath= "
                                               "to a cgroup2 directory.");
                if (r < 0)
                        return log_error_errno(r, "Failed to read /proc/self/mountinfo: %m");
        }

        d->cgroup_fd = open(d->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d->cgroup_fd < 0)
                return log_error_errno(errno, "Failed to open cgroup %s: %m", d->cgroup_path);
        if (!path_is_fs_type(d->cgroup_path, CGROUP2_SUPER_MAGIC))
                return log_error_errno(EINVAL, "CgroupPath=%s is not a cgroup2 directory (it must be on the "
                                       "cgroup2 mount, see /proc/self/mountinfo).", d->cgroup_path);

        r = pin_directory_ensure(d->pin_directory);
        if (r < 0)
                return r;

        d->skel = fastpath_bpf__open();
        if (!d->skel) {
                r = log_error_errno(errno, "Failed to open the fastpath BPF object: %m");
                goto fail;
        }
        d->skel->rodata->bypass_mark = c->bypass_mark;
        r = bpf_map__set_max_entries(d->skel->maps.sockhash, c->max_sockets);
        if (r >= 0)
                r = bpf_map__set_max_entries(d->skel->maps.receivers, c->max_sockets);
        /* LRU: entries of closed receivers go when room is needed; the room for twice the
         * sockets (and some more, the LRU frees per CPU) keeps live ones from being evicted */
        if (r >= 0)
                r = bpf_map__set_max_entries(d->skel->maps.queues, 2 * c->max_sockets > 1024 ? 2 * c->max_sockets : 1024);
        if (r < 0) {
                r = log_error_errno(r, "Failed to size the sockhash to %u: %m", c->max_sockets);
                goto fail;
        }

        pinned_maps(d, maps);
        for (size_t i = 0; i < N_PINNED_MAPS; i++) {
                bool adopted = false;

                r = map_pin_prepare(d, maps[i], &adopted);
                if (r < 0)
                        goto fail;
                replace[i] = r > 0;
                created[i] = !adopted;
                d->adopted = d->adopted || adopted;
        }

        r = fastpath_bpf__load(d->skel);
        if (r < 0) {
                if (access("/sys/kernel/btf/vmlinux", F_OK) < 0)
                        r = log_error_errno(r, "Failed to load the fastpath BPF programs: the kernel has no BTF "
                                            "(/sys/kernel/btf/vmlinux is missing: CONFIG_DEBUG_INFO_BTF=y is "
                                            "needed): %m");
                else
                        r = log_error_errno(r, "Failed to load the fastpath BPF programs (a kernel older than "
                                            "5.15 lacks helpers they use; the kernel's reason is above): %m");
                goto fail;
        }

        for (size_t i = 0; i < N_PINNED_MAPS; i++) {
                _cleanup_free_ char *path = NULL;

                if (!replace[i])
                        continue;
                r = pin_path(d, bpf_map__name(maps[i]), &path);
                if (r < 0)
                        goto fail;
                if (unlink(path) < 0 && errno != ENOENT) {
                        r = log_error_errno(errno, "Failed to remove stale pin %s: %m", path);
                        goto fail;
                }
                r = bpf_map__pin(maps[i], path);
                if (r < 0) {
                        r = log_error_errno(r, "Failed to pin %s: %m", path);
                        goto fail;
                }
        }

        pass_large_writes_check(c->pass_large_writes);
        r = settings_write(d, &(struct skfp_settings) {
                .enabled = c->fastpath,
                .pass_large_writes = c->pass_large_writes,
                .receive_bound = DATAPATH_RECEIVE_BOUND,
        });
        if (r < 0)
                goto fail;
        /* the daemon fills them from the configuration (datapath_set_trusted_cgroups) */
        r = datapath_set_trusted_cgroups(d, NULL, 0);
        if (r < 0)
                goto fail;
        r = ports_sync(d, c);
        if (r < 0)
                goto fail;

        /* sk_msg first: a socket takes the sockhash's program when it is inserted, so new
         * sockets inserted by the new sockops program get the new sk_msg program too. */
        if (bpf_prog_attach(bpf_program__fd(d->skel->progs.skfp_sk_msg), bpf_map__fd(d->skel->maps.sockhash),
                            BPF_SK_MSG_VERDICT, 0) < 0) {
                r = log_error_errno(errno, "Failed to attach sk_msg to the sockhash: %m");
                goto fail;
        }

        r = sockops_attach(d);
        if (r < 0)
                goto fail;

        splice_attach(d);

        log_info("Fastpath attached to cgroup %s, pins in %s%s, fastpath %s.", d->cgroup_path,
                 d->pin_directory, d->adopted ? " (adopted from a previous run)" : "",
                 c->fastpath ? "on" : "off");
        *ret = TAKE_PTR(d);
        return 0;

fail:
        /* Undo only what this call created; adopted pins keep the previous datapath running. */
        for (size_t i = 0; i < N_PINNED_MAPS; i++)
                if (maps[i] && created[i] && bpf_map__is_pinned(maps[i]))
                        (void) bpf_map__unpin(maps[i], NULL);
        if (!d->adopted)
                (void) rmdir(d->pin_directory);
        return r;
}

Datapath *datapath_free(Datapath *d)
{
        if (!d)
                return NULL;
        /* Closing a pinned link's fd leaves it attached: that is what a restart adopts. */
        bpf_link__destroy(d->sockops_link);
        ring_buffer__free(d->splice_events);
        receiver_bpf__destroy(d->splice);
        fastpath_bpf__destroy(d->skel);
        safe_close(d->cgroup_fd);
        free(d->pin_directory);
        free(d->cgroup_path);
        free(d);
        return NULL;
}

static void pin_directory_remove(Datapath *d)
{
        if (rmdir(d->pin_directory) >= 0 || errno == ENOENT)
                return;
        /* the unit makes it a read-only mount point of its own (ReadWritePaths=), and removes it
         * after the stop (ExecStopPost=) */
        if (errno == EROFS || errno == EBUSY)
                log_debug_errno(errno, "Cannot remove %s, leaving it to the service manager: %m", d->pin_directory);
        else
                log_warning_errno(errno, "Failed to remove %s, ignoring: %m", d->pin_directory);
}

void datapath_unpin(Datapath *d)
{
        struct bpf_map *maps[N_PINNED_MAPS];
        int r;

        if (!d)
                return;

        /* Sockets still in the sockhash keep their sk_msg program after we are gone: make it pass
         * (one-way, byte-exact) rather than evict them, which would drop queued data. */
        r = datapath_set_fastpath(d, false);
        if (r < 0)
                log_warning_errno(r, "Failed to switch the fastpath off before detaching, ignoring: %m");

        if (bpf_prog_detach2(bpf_program__fd(d->skel->progs.skfp_sk_msg), bpf_map__fd(d->skel->maps.sockhash),
                             BPF_SK_MSG_VERDICT) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to detach sk_msg from the sockhash, ignoring: %m");

        if (d->sockops_link) {
                r = bpf_link__detach(d->sockops_link);
                if (r < 0)
                        log_warning_errno(r, "Failed to detach sockops from %s, ignoring: %m", d->cgroup_path);
                r = bpf_link__unpin(d->sockops_link);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Failed to unpin the sockops link, ignoring: %m");
        }

        pinned_maps(d, maps);
        for (size_t i = 0; i < N_PINNED_MAPS; i++) {
                if (!bpf_map__is_pinned(maps[i]))
                        continue;
                r = bpf_map__unpin(maps[i], NULL);
                if (r < 0)
                        log_warning_errno(r, "Failed to unpin map %s, ignoring: %m", bpf_map__name(maps[i]));
        }

        pin_directory_remove(d);
        log_info("Fastpath detached from cgroup %s and unpinned.", d->cgroup_path);
}

int datapath_set_port(Datapath *d, uint16_t port, PortMode mode)
{
        struct skfp_port_value v = { .flags = port_flags(mode) };

        if (port == 0)
                return -EINVAL;
        if (bpf_map__update_elem(d->skel->maps.ports, &port, sizeof(port), &v, sizeof(v), BPF_ANY) < 0)
                return log_error_errno(errno, "Failed to add port %u to the fastpath: %m", port);
        return 0;
}

/* Sockets already in the sockhash stay there until they close: evicting one would drop data
 * still queued for it. */
int datapath_remove_port(Datapath *d, uint16_t port)
{
        if (bpf_map__delete_elem(d->skel->maps.ports, &port, sizeof(port), 0) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Failed to remove port %u from the fastpath: %m", port);
        return 0;
}

int datapath_set_fastpath(Datapath *d, bool enabled)
{
        struct skfp_settings s;
        int r;

        r = settings_read(d, &s);
        if (r < 0)
                return r;
        s.enabled = enabled;
        return settings_write(d, &s);
}

int datapath_set_pass_large_writes(Datapath *d, uint64_t threshold)
{
        struct skfp_settings s;
        int r;

        pass_large_writes_check(threshold);
        r = settings_read(d, &s);
        if (r < 0)
                return r;
        s.pass_large_writes = threshold;
        return settings_write(d, &s);
}

int datapath_get_statistics(Datapath *d, DatapathStatistics *ret)
{
        uint64_t sums[_SKFP_FP_MAX] = {};
        struct skfp_sock_key key, next, *prev = NULL;
        uint64_t tracked = 0;
        int r;

        r = bpf_percpu_counters_sum(bpf_map__fd(d->skel->maps.counters), _SKFP_FP_MAX, sums);
        if (r < 0)
                return log_error_errno(r, "Failed to read the fastpath counters: %m");

        /* Bounded: a key deleted under the cursor makes the walk start over. */
        while (tracked < bpf_map__max_entries(d->skel->maps.sockhash) &&
               bpf_map__get_next_key(d->skel->maps.sockhash, prev, &next, sizeof(next)) >= 0) {
                key = next;
                prev = &key;
                tracked++;
        }

        *ret = (DatapathStatistics) {
                .redirected = sums[SKFP_FP_REDIRECTED],
                .redirected_bytes = sums[SKFP_FP_REDIRECTED_BYTES],
                .misses = sums[SKFP_FP_MISSES],
                .passed = sums[SKFP_FP_PASSED],
                .passed_bytes = sums[SKFP_FP_PASSED_BYTES],
                .inserted = sums[SKFP_FP_INSERTED],
                .insert_failed = sums[SKFP_FP_INSERT_FAILED],
                .skipped_mark = sums[SKFP_FP_SKIPPED_MARK],
                .tracked_sockets = tracked,
                .receivers = sums[SKFP_FP_RECEIVERS],
                .passed_bound = sums[SKFP_FP_PASSED_BOUND],
                .passed_spliced = sums[SKFP_FP_PASSED_SPLICED],
                .spliced = sums[SKFP_FP_SPLICED],
                .passed_unbounded = sums[SKFP_FP_PASSED_UNBOUNDED],
                .splice_detection = d->splice_state,
        };
        return 0;
}

const char *datapath_get_pin_directory(const Datapath *d)
{
        return d->pin_directory;
}

const char *datapath_get_cgroup_path(const Datapath *d)
{
        return d->cgroup_path;
}

bool datapath_is_adopted(const Datapath *d)
{
        return d->adopted;
}

/* The pinned objects by name; pinned_maps() has the maps in this order. */
static const char *const pinned_names[DATAPATH_N_PINNED] = {
        "sockhash", "ports", "settings", "conns", "counters", "receivers", "trusted_cgroups",
        "queues", SOCKOPS_LINK_NAME,
};

void datapath_get_pinned(Datapath *d, DatapathPinned ret[static DATAPATH_N_PINNED])
{
        struct bpf_map *maps[N_PINNED_MAPS];

        pinned_maps(d, maps);
        for (size_t i = 0; i < N_PINNED_MAPS; i++)
                ret[i] = (DatapathPinned) { pinned_names[i], bpf_map__fd(maps[i]) };
        ret[N_PINNED_MAPS] = (DatapathPinned) {
                SOCKOPS_LINK_NAME, d->sockops_link ? bpf_link__fd(d->sockops_link) : -EBADF,
        };
}

void datapath_forget_pins(Datapath *d)
{
        struct bpf_map *maps[N_PINNED_MAPS];
        int r;

        if (!d)
                return;
        pinned_maps(d, maps);
        for (size_t i = 0; i < N_PINNED_MAPS; i++)
                if (bpf_map__is_pinned(maps[i])) {
                        r = bpf_map__unpin(maps[i], NULL);
                        if (r < 0)
                                log_warning_errno(r, "Failed to unpin map %s, ignoring: %m", bpf_map__name(maps[i]));
                }
        if (d->sockops_link) {
                r = bpf_link__unpin(d->sockops_link);
                if (r < 0 && r != -ENOENT && r != -EINVAL)
                        log_warning_errno(r, "Failed to unpin the sockops link, ignoring: %m");
        }
        pin_directory_remove(d);
}

int datapath_repin(const Config *c, const char *name, int fd)
{
        const char *dir = c->pin_directory ?: DEFAULT_PIN_DIRECTORY;
        _cleanup_free_ char *path = NULL;
        bool known = false;
        int r;

        for (size_t i = 0; i < DATAPATH_N_PINNED; i++)
                known = known || streq(pinned_names[i], name);
        if (!known) {
                log_warning("Unknown datapath object \"%s\" handed over, ignoring it.", name);
                return 0;
        }
        r = pin_directory_ensure(dir);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return log_oom();
        if (access(path, F_OK) >= 0)
                return 0;
        if (bpf_obj_pin(fd, path) < 0)
                return log_error_errno(errno, "Failed to pin the handed over %s at %s: %m", name, path);
        return 1;
}

int datapath_set_trusted_cgroups(Datapath *d, const uint64_t *ids, size_t n)
{
        struct bpf_map *map = d->skel->maps.trusted_cgroups;
        uint64_t key, next, *prev = NULL;
        struct skfp_settings s;
        uint8_t one = 1;
        size_t n_present = 0;
        int r;

        for (size_t i = 0; i < n; i++)
                if (ids[i] != 0 &&
                    bpf_map__update_elem(map, &ids[i], sizeof(ids[i]), &one, sizeof(one), BPF_ANY) < 0)
                        return log_error_errno(errno, "Failed to add cgroup %llu to the trusted cgroups: %m",
                                               (unsigned long long) ids[i]);
        /* then drop the others; the iteration restarts after a delete */
        while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) >= 0) {
                bool keep = false;

                key = next;
                prev = &key;
                for (size_t i = 0; i < n && !keep; i++)
                        keep = ids[i] == key;
                if (keep) {
                        n_present++;
                        continue;
                }
                if (bpf_map__delete_elem(map, &key, sizeof(key), 0) < 0 && errno != ENOENT)
                        return log_error_errno(errno, "Failed to remove cgroup %llu from the trusted cgroups: %m",
                                               (unsigned long long) key);
                prev = NULL;
                n_present = 0;
        }
        r = settings_read(d, &s);
        if (r < 0)
                return r;
        s.n_trusted_cgroups = (uint32_t) n_present;
        return settings_write(d, &s);
}

int datapath_cgroup_id(const char *path, uint64_t *ret)
{
        _cleanup_free_ char *root = NULL, *full = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = cgroup2_root_find(&root);
        if (r < 0)
                return r;
        if (asprintf(&full, "%s%s", root, streq(path, "/") ? "" : path) < 0)
                return -ENOMEM;
        fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return cgroup_id_of_fd(fd, ret);
}

int datapath_splice_fd(Datapath *d)
{
        return d->splice_events ? ring_buffer__epoll_fd(d->splice_events) : -EBADF;
}

void datapath_splice_process(Datapath *d)
{
        if (d->splice_events)
                (void) ring_buffer__consume(d->splice_events);
}

void datapath_set_splice_handler(Datapath *d, DatapathSpliceHandler handler, void *userdata)
{
        d->splice_handler = handler;
        d->splice_userdata = userdata;
}

int datapath_listener_set_mark(int fd, uint32_t mark)
{
        if (mark == 0)
                return 0;
        if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
                return -errno;
        return 0;
}
