/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/inotify.h>
#include <sys/stat.h>

#include "cgroup-set.h"
#include "config.h"

typedef struct CgroupWatch {
        int wd;
        char *dir;                  /* below the root */
} CgroupWatch;

struct CgroupSet {
        char *root;
        CgroupEntry *entries;
        size_t n_entries;
        CgroupWatch *watches;
        size_t n_watches;
        int inotify_fd;
        sd_event_source *source;
        const CgroupOps *ops;
        void *userdata;
};

#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | \
                    IN_ONLYDIR)

int cgroup_set_new(CgroupSet **ret, const char *root, const CgroupOps *ops, void *userdata)
{
        CgroupSet *s;

        s = calloc(1, sizeof(CgroupSet));
        if (!s)
                return -ENOMEM;
        s->inotify_fd = -EBADF;
        s->ops = ops;
        s->userdata = userdata;
        s->root = strdup(root);
        if (!s->root) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static void watches_clear(CgroupSet *s)
{
        for (size_t i = 0; i < s->n_watches; i++)
                free(s->watches[i].dir);
        free(s->watches);
        s->watches = NULL;
        s->n_watches = 0;
}

CgroupSet *cgroup_set_free(CgroupSet *s)
{
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->source);
        safe_close(s->inotify_fd);
        watches_clear(s);
        for (size_t i = 0; i < s->n_entries; i++)
                free(s->entries[i].path);
        free(s->entries);
        free(s->root);
        free(s);
        return NULL;
}

/* The cgroup id of root + path, 0 when it is not a directory there (or not reachable). */
static uint64_t resolve(CgroupSet *s, const char *path)
{
        _cleanup_free_ char *full = NULL;
        struct stat st;

        if (asprintf(&full, "%s%s", s->root, streq(path, "/") ? "" : path) < 0)
                return 0;
        if (stat(full[0] ? full : "/", &st) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        return (uint64_t) st.st_ino;
}

static bool dir_exists(CgroupSet *s, const char *dir)
{
        return resolve(s, dir) != 0;
}

/* The directory to watch for entry e: the parent of a present one (its removal and re-creation),
 * the deepest existing ancestor of an absent one (the next component's creation). NULL for "/". */
static char *watch_dir_of(CgroupSet *s, const CgroupEntry *e)
{
        char *d, *slash;

        if (streq(e->path, "/"))
                return NULL;
        d = strdup(e->path);
        if (!d)
                return NULL;
        for (;;) {
                slash = strrchr(d, '/');
                if (slash == d) {
                        d[1] = 0;
                        return d;    /* the root: always there */
                }
                *slash = 0;
                if (!e->id && !dir_exists(s, d))
                        continue;
                return d;
        }
}

static bool watch_known(CgroupSet *s, int wd)
{
        for (size_t i = 0; i < s->n_watches; i++)
                if (s->watches[i].wd == wd)
                        return true;
        return false;
}

/* Makes the watches those the entries need now; a watch that is no longer needed goes. */
static int watches_update(CgroupSet *s)
{
        CgroupWatch *next = NULL;
        size_t n_next = 0;
        int r = 0;

        if (s->inotify_fd < 0)
                return 0;
        for (size_t i = 0; i < s->n_entries; i++) {
                _cleanup_free_ char *dir = watch_dir_of(s, &s->entries[i]), *full = NULL;
                CgroupWatch *a;
                bool dup = false;
                int wd;

                if (!dir)
                        continue;
                for (size_t j = 0; j < n_next; j++)
                        if (streq(next[j].dir, dir))
                                dup = true;
                if (dup)
                        continue;
                if (asprintf(&full, "%s%s", s->root, streq(dir, "/") ? "" : dir) < 0) {
                        r = -ENOMEM;
                        break;
                }
                wd = inotify_add_watch(s->inotify_fd, full[0] ? full : "/", WATCH_MASK);
                if (wd < 0) {
                        /* gone meanwhile: the caller resolves again */
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        r = -errno;
                        break;
                }
                a = reallocarray(next, n_next + 1, sizeof(CgroupWatch));
                if (!a) {
                        r = -ENOMEM;
                        break;
                }
                next = a;
                next[n_next++] = (CgroupWatch) { .wd = wd, .dir = TAKE_PTR(dir) };
        }
        if (r < 0) {
                for (size_t j = 0; j < n_next; j++)
                        free(next[j].dir);
                free(next);
                return r;
        }
        /* the old ones nobody needs now (a wd is per inode: the same directory keeps its wd) */
        for (size_t i = 0; i < s->n_watches; i++) {
                bool kept = false;

                for (size_t j = 0; j < n_next; j++)
                        if (next[j].wd == s->watches[i].wd)
                                kept = true;
                if (!kept)
                        (void) inotify_rm_watch(s->inotify_fd, s->watches[i].wd);
        }
        watches_clear(s);
        s->watches = next;
        s->n_watches = n_next;
        return 0;
}

/* Resolves one entry; hands a changed id to the ops. Returns 1 when it changed. */
static int entry_resolve(CgroupSet *s, CgroupEntry *e)
{
        uint64_t id = resolve(s, e->path);
        int r;

        if (id == e->id)
                return 0;
        if (e->id && s->ops && s->ops->select)
                (void) s->ops->select(s->userdata, e->id, e->level, false);
        if (id && s->ops && s->ops->select) {
                r = s->ops->select(s->userdata, id, e->level, true);
                if (r < 0) {
                        log_warning_errno(r, "Failed to select cgroup %s (id %" PRIu64 "): %m", e->path, id);
                        e->id = 0;
                        return 1;
                }
        }
        log_debug("Cgroup %s is %s (id %" PRIu64 ").", e->path, id ? "present" : "absent", id);
        e->id = id;
        return 1;
}

int cgroup_set_refresh(CgroupSet *s)
{
        int changed = 0, r;

        /* a directory made between a stat and its watch is found by the next round; the depth
         * bounds the rounds */
        for (unsigned round = 0; round <= CONFIG_MAX_CGROUP_LEVEL + 1; round++) {
                int n = 0;

                for (size_t i = 0; i < s->n_entries; i++)
                        n += entry_resolve(s, &s->entries[i]);
                if (round > 0 && n == 0)
                        break;
                changed += n;
                r = watches_update(s);
                if (r < 0)
                        log_warning_errno(r, "Failed to watch the cgroup tree, cgroups made later may "
                                          "be missed: %m");
        }
        return changed;
}

static int on_inotify(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
        CgroupSet *s = userdata;
        union {
                struct inotify_event ev;
                uint8_t raw[4096];
        } buf;
        bool relevant = false;
        ssize_t n;

        for (;;) {
                n = read(fd, &buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_warning_errno(errno, "Failed to read cgroup tree events: %m");
                        break;
                }
                for (uint8_t *p = buf.raw; p < buf.raw + n;) {
                        struct inotify_event *ev = (struct inotify_event *) p;

                        /* IN_IGNORED of a watch we removed ourselves is no news */
                        if (!(ev->mask & IN_IGNORED) || watch_known(s, ev->wd) || (ev->mask & IN_Q_OVERFLOW))
                                relevant = true;
                        p += sizeof(struct inotify_event) + ev->len;
                }
        }
        if (relevant && cgroup_set_refresh(s) > 0 && s->ops && s->ops->changed)
                s->ops->changed(s->userdata);
        return 0;
}

int cgroup_set_attach_event(CgroupSet *s, sd_event *e)
{
        int r;

        s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (s->inotify_fd < 0)
                return -errno;
        r = sd_event_add_io(e, &s->source, s->inotify_fd, EPOLLIN, on_inotify, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s->source, "cgroup-tree");
        (void) cgroup_set_refresh(s);
        return 0;
}

int cgroup_set_add(CgroupSet *s, const char *path)
{
        CgroupEntry *a;
        char *p;

        if (config_cgroup_invalid_reason(path))
                return -EINVAL;
        if (cgroup_set_find(s, path))
                return 0;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        a = reallocarray(s->entries, s->n_entries + 1, sizeof(CgroupEntry));
        if (!a) {
                free(p);
                return -ENOMEM;
        }
        s->entries = a;
        s->entries[s->n_entries++] = (CgroupEntry) { .path = p, .level = config_cgroup_level(p) };
        (void) cgroup_set_refresh(s);
        return 1;
}

int cgroup_set_remove(CgroupSet *s, const char *path)
{
        for (size_t i = 0; i < s->n_entries; i++) {
                CgroupEntry *e = &s->entries[i];

                if (!streq(e->path, path))
                        continue;
                if (e->id && s->ops && s->ops->select)
                        (void) s->ops->select(s->userdata, e->id, e->level, false);
                free(e->path);
                memmove(e, e + 1, (s->n_entries - i - 1) * sizeof(CgroupEntry));
                s->n_entries--;
                (void) watches_update(s);
                return 1;
        }
        return 0;
}

size_t cgroup_set_size(CgroupSet *s)
{
        return s ? s->n_entries : 0;
}

const CgroupEntry *cgroup_set_get(CgroupSet *s, size_t i)
{
        return s && i < s->n_entries ? &s->entries[i] : NULL;
}

const CgroupEntry *cgroup_set_find(CgroupSet *s, const char *path)
{
        for (size_t i = 0; s && i < s->n_entries; i++)
                if (streq(s->entries[i].path, path))
                        return &s->entries[i];
        return NULL;
}

uint32_t cgroup_set_levels(CgroupSet *s)
{
        uint32_t l = 0;

        for (size_t i = 0; s && i < s->n_entries; i++)
                if (s->entries[i].id)
                        l |= 1u << s->entries[i].level;
        return l;
}

size_t cgroup_set_n_watches(CgroupSet *s)
{
        return s ? s->n_watches : 0;
}
