/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The cgroup path rule (config_cgroup_invalid_reason(), one rule for the config file, the state
 * file and D-Bus) and the follow logic of CgroupSet over a plain directory tree standing in for
 * the cgroup2 root: an entry made after it was added, removed, made again, nested; inotify
 * through a real sd-event loop; the watches stay bounded by the entries. */
#include <sys/stat.h>
#include <time.h>

#include "cgroup-set.h"
#include "config.h"
#include "tests.h"
#include "util.h"

static void test_path_rule(void)
{
        static const char *const good[] = {
                "/", "/a", "/system.slice/foo.service", "/user.slice/user-1000.slice/user@1000.service/app.slice",
                "/a.b/..c/c..", "/x\\x2dy",
        };
        static const char *const bad[] = {
                "", "a", "a/b", "//", "/a/", "/a//b", "/a/./b", "/.", "/..", "/a/..", "/a/../b",
                "/a b", "/a\tb", "/a\nb", "/a\x7f",
        };
        char deep[256] = "", long_comp[300] = "/", long_path[1100] = "";

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                if (config_cgroup_invalid_reason(good[i]))
                        fprintf(stderr, "refused: %s\n", good[i]);
                ASSERT(!config_cgroup_invalid_reason(good[i]));
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (!config_cgroup_invalid_reason(bad[i]))
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                ASSERT(config_cgroup_invalid_reason(bad[i]));
        }
        ASSERT(config_cgroup_invalid_reason(NULL));

        /* 31 levels are fine, 32 are not (the BPF program looks at levels 0 to 31) */
        for (int i = 0; i < 31; i++)
                strcat(deep, "/d");
        ASSERT(!config_cgroup_invalid_reason(deep));
        ASSERT_EQ(config_cgroup_level(deep), 31u);
        strcat(deep, "/d");
        ASSERT(config_cgroup_invalid_reason(deep));

        /* at most CGROUP_PATH_MAX (1024) bytes, the rule of cgroup_path_valid() */
        memset(long_comp + 1, 'x', 255);
        ASSERT(!config_cgroup_invalid_reason(long_comp));
        for (int i = 0; i < 4; i++) {
                strcat(long_path, "/");
                memset(long_path + strlen(long_path), 'y', 255);
        }
        ASSERT_EQ(strlen(long_path), 1024u);
        ASSERT(!config_cgroup_invalid_reason(long_path));
        strcat(long_path, "y");
        ASSERT(config_cgroup_invalid_reason(long_path));

        ASSERT_EQ(config_cgroup_level("/"), 0u);
        ASSERT_EQ(config_cgroup_level("/a"), 1u);
        ASSERT_EQ(config_cgroup_level("/a/b/c"), 3u);
}

static void test_config_key(void)
{
        static const char ok[] = "[Intercept]\nCgroups=/a /b/c\nCgroups=/a /d\n";
        static const char reset[] = "[Intercept]\nCgroups=/a\nCgroups=\n";
        static const char bad[] = "[Intercept]\nCgroups=/a /b/../c\n";
        Config c;
        FILE *f;

        config_init(&c);
        f = fmemopen((void *) ok, strlen(ok), "r");
        ASSERT_EQ(config_parse(&c, f, "t.conf"), 0);
        fclose(f);
        ASSERT_EQ(c.n_cgroups, 3u);
        ASSERT_STREQ(c.cgroups[0], "/a");
        ASSERT_STREQ(c.cgroups[2], "/d");
        config_done(&c);

        config_init(&c);
        f = fmemopen((void *) reset, strlen(reset), "r");
        ASSERT_EQ(config_parse(&c, f, "t.conf"), 0);
        fclose(f);
        ASSERT_EQ(c.n_cgroups, 0u);
        config_done(&c);

        /* a bad entry adds none of the line */
        config_init(&c);
        f = fmemopen((void *) bad, strlen(bad), "r");
        ASSERT(config_parse(&c, f, "t.conf") < 0);
        fclose(f);
        ASSERT_EQ(c.n_cgroups, 0u);
        config_done(&c);
}

typedef struct Recorder {
        uint64_t selected[16];
        unsigned levels[16];
        size_t n;
        unsigned changes;
} Recorder;

static int rec_select(void *userdata, uint64_t id, unsigned level, bool selected)
{
        Recorder *r = userdata;

        if (selected) {
                if (r->n < ELEMENTSOF(r->selected)) {
                        r->levels[r->n] = level;
                        r->selected[r->n++] = id;
                }
                return 0;
        }
        for (size_t i = 0; i < r->n; i++)
                if (r->selected[i] == id) {
                        r->selected[i] = r->selected[--r->n];
                        r->levels[i] = r->levels[r->n];
                        return 0;
                }
        return -ENOENT;
}

static void rec_changed(void *userdata)
{
        ((Recorder *) userdata)->changes++;
}

static const CgroupOps rec_ops = { .select = rec_select, .changed = rec_changed };

static uint64_t ino(const char *root, const char *p)
{
        char path[512];
        struct stat st;

        snprintf(path, sizeof(path), "%s%s", root, p);
        return stat(path, &st) < 0 ? 0 : (uint64_t) st.st_ino;
}

static void mk(const char *root, const char *p)
{
        char path[512];

        snprintf(path, sizeof(path), "%s%s", root, p);
        (void) mkdir(path, 0755);
}

static void rm(const char *root, const char *p)
{
        char path[512];

        snprintf(path, sizeof(path), "%s%s", root, p);
        (void) rmdir(path);
}

/* Runs the loop until the recorder saw another change, at most 1 s; returns the ms it took. */
static long run_until_change(sd_event *e, Recorder *rec)
{
        unsigned before = rec->changes;
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 100 && rec->changes == before; i++)
                (void) sd_event_run(e, 10 * 1000);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        return (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

static bool has(Recorder *rec, uint64_t id)
{
        for (size_t i = 0; i < rec->n; i++)
                if (rec->selected[i] == id)
                        return true;
        return false;
}

static void test_follow(void)
{
        char root[] = "/tmp/test-cgroup-set.XXXXXX";
        _cleanup_(cgroup_set_freep) CgroupSet *s = NULL;
        sd_event *e = NULL;
        Recorder rec = {};
        const CgroupEntry *a;
        uint64_t id1, id2;
        long ms;

        ASSERT(mkdtemp(root));
        ASSERT_EQ(sd_event_new(&e), 0);
        ASSERT_EQ(cgroup_set_new(&s, root, &rec_ops, &rec), 0);
        ASSERT_EQ(cgroup_set_attach_event(s, e), 0);

        /* absent: nothing selected, the root watched */
        ASSERT_EQ(cgroup_set_add(s, "/app/web"), 1);
        ASSERT_EQ(cgroup_set_add(s, "/app/web"), 0);
        ASSERT_EQ(cgroup_set_add(s, "/app/../x"), -EINVAL);
        a = cgroup_set_find(s, "/app/web");
        ASSERT(a);
        ASSERT_EQ(a->id, 0u);
        ASSERT_EQ(a->level, 2u);
        ASSERT_EQ(rec.n, 0u);
        ASSERT_EQ(cgroup_set_levels(s), 0u);
        ASSERT_EQ(cgroup_set_n_watches(s), 1u);

        /* the parent appears: the watch moves down, still nothing selected */
        mk(root, "/app");
        (void) run_until_change(e, &rec);
        ASSERT_EQ(rec.n, 0u);
        ASSERT_EQ(cgroup_set_n_watches(s), 1u);

        /* the cgroup appears: selected with its id and level, within 100 ms */
        mk(root, "/app/web");
        ms = run_until_change(e, &rec);
        printf("     /app/web matched %ld ms after mkdir\n", ms);
        ASSERT(ms < 100);
        id1 = ino(root, "/app/web");
        ASSERT_EQ(cgroup_set_find(s, "/app/web")->id, id1);
        ASSERT(has(&rec, id1));
        ASSERT_EQ(rec.levels[0], 2u);
        ASSERT_EQ(cgroup_set_levels(s), 1u << 2);

        /* removed: unselected */
        rm(root, "/app/web");
        (void) run_until_change(e, &rec);
        ASSERT_EQ(cgroup_set_find(s, "/app/web")->id, 0u);
        ASSERT_EQ(rec.n, 0u);

        /* made again, and the parent removed and made again under it: followed each time */
        mk(root, "/app/web");
        (void) run_until_change(e, &rec);
        id2 = ino(root, "/app/web");
        ASSERT_EQ(cgroup_set_find(s, "/app/web")->id, id2);
        ASSERT(has(&rec, id2));
        rm(root, "/app/web");
        rm(root, "/app");
        (void) run_until_change(e, &rec);
        ASSERT_EQ(rec.n, 0u);
        for (int i = 0; i < 20 && cgroup_set_find(s, "/app/web")->id == 0; i++) {
                mk(root, "/app");
                mk(root, "/app/web");
                (void) run_until_change(e, &rec);
        }
        ASSERT_EQ(cgroup_set_find(s, "/app/web")->id, ino(root, "/app/web"));
        ASSERT_EQ(rec.n, 1u);

        /* nested entries and a second one at another level; watches bounded by the entries */
        ASSERT_EQ(cgroup_set_add(s, "/app"), 1);
        ASSERT_EQ(cgroup_set_add(s, "/other/deep/er"), 1);
        ASSERT_EQ(rec.n, 2u);
        ASSERT_EQ(cgroup_set_levels(s), (1u << 1) | (1u << 2));
        ASSERT(cgroup_set_n_watches(s) <= cgroup_set_size(s));

        /* removal from the set unselects */
        ASSERT_EQ(cgroup_set_remove(s, "/app"), 1);
        ASSERT_EQ(cgroup_set_remove(s, "/app"), 0);
        ASSERT_EQ(rec.n, 1u);
        ASSERT_EQ(cgroup_set_remove(s, "/app/web"), 1);
        ASSERT_EQ(rec.n, 0u);

        rm(root, "/app/web");
        rm(root, "/app");
        rmdir(root);
        s = cgroup_set_free(s);
        sd_event_unref(e);
}

int main(void)
{
        log_set_prefix(true);
        RUN(test_path_rule);
        RUN(test_config_key);
        RUN(test_follow);
        TESTS_DONE();
}
