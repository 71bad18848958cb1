/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The manager's operations without a kernel or a bus (no datapath, interception or links
 * loaded): Revert() makes the runtime sets the config file's again and removes the state file;
 * RuntimeChanges (state_diff()) is then empty; lo is refused as in the config file. */
#include <errno.h>
#include <sys/stat.h>

#include "manager.h"
#include "state.h"
#include "tests.h"
#include "util.h"

static char *make_tmpdir(void)
{
        char *d = strdup("/tmp/skfp-test-revert.XXXXXX");

        if (d && !mkdtemp(d)) {
                free(d);
                return NULL;
        }
        return d;
}

static size_t n_changes(Manager *m)
{
        _cleanup_free_ StateChange *changes = NULL;
        size_t n = 0;

        if (state_diff(&m->config_file, &m->config, &changes, &n) < 0)
                return (size_t) -1;
        return n;
}

/* A manager whose config file says Interfaces=eth0, Ports=80, InterceptOnlyPorts=5201, on. */
static Manager *setup(const char *dir)
{
        Manager *m = NULL;
        Config c;

        config_init(&c);
        config_add_interface(&c, "eth0");
        config_add_port(&c, 80, PORT_MODE_FASTPATH);
        config_add_port(&c, 5201, PORT_MODE_INTERCEPT_ONLY);
        if (manager_new(&m, &c, "t.conf") < 0) {
                config_done(&c);
                return NULL;
        }
        m->state_directory = strdup(dir);
        if (!m->state_directory || state_copy(&m->config_file, &m->config) < 0)
                return manager_free(m);
        return m;
}

static void test_revert(void)
{
        _cleanup_free_ char *dir = make_tmpdir(), *path = NULL;
        unsigned changed = 0;
        struct stat st;
        Manager *m;

        ASSERT(dir);
        ASSERT(asprintf(&path, "%s/" STATE_FILE_NAME, dir) > 0);
        m = setup(dir);
        ASSERT(m);
        ASSERT_EQ(n_changes(m), 0u);

        /* runtime changes of every kind, saved as the bus methods do */
        ASSERT_EQ(manager_add_port(m, 8080), 1);
        ASSERT_EQ(manager_remove_port(m, 5201), 1);
        ASSERT_EQ(manager_remove_interface(m, "eth0"), 1);
        ASSERT_EQ(manager_add_interface(m, "wg0"), 1);
        ASSERT_EQ(manager_set_fastpath(m, false), 1);
        ASSERT_EQ(n_changes(m), 5u);
        ASSERT_EQ(state_save(dir, &m->config), 0);
        ASSERT_EQ(stat(path, &st), 0);

        ASSERT_EQ(manager_revert(m, &changed), 1);
        ASSERT_EQ(changed, MANAGER_CHANGED_INTERFACES | MANAGER_CHANGED_PORTS | MANAGER_CHANGED_FASTPATH);
        ASSERT_EQ(n_changes(m), 0u);
        ASSERT(m->config.fastpath);
        ASSERT_EQ(m->config.n_interfaces, 1u);
        ASSERT_STREQ(m->config.interfaces[0], "eth0");
        ASSERT_EQ(m->config.n_ports, 2u);
        ASSERT(config_find_port(&m->config, 5201)->mode == PORT_MODE_INTERCEPT_ONLY);
        ASSERT(stat(path, &st) < 0 && errno == ENOENT);

        /* nothing left to drop */
        changed = 0;
        ASSERT_EQ(manager_revert(m, &changed), 0);
        ASSERT_EQ(changed, 0u);
        manager_free(m);
        rmdir(dir);
}

static void test_revert_restores_a_port_mode(void)
{
        _cleanup_free_ char *dir = make_tmpdir();
        unsigned changed = 0;
        Manager *m;

        ASSERT(dir);
        m = setup(dir);
        ASSERT(m);
        /* 5201 removed and added again: a fastpath port now, intercept-only in the file */
        ASSERT_EQ(manager_remove_port(m, 5201), 1);
        ASSERT_EQ(manager_add_port(m, 5201), 1);
        ASSERT_EQ(n_changes(m), 2u);   /* removed from InterceptOnlyPorts, added to Ports */
        /* the state file is already gone: not an error */
        ASSERT_EQ(manager_revert(m, &changed), 1);
        ASSERT_EQ(changed, MANAGER_CHANGED_PORTS);
        ASSERT(config_find_port(&m->config, 5201)->mode == PORT_MODE_INTERCEPT_ONLY);
        ASSERT_EQ(n_changes(m), 0u);
        manager_free(m);
        rmdir(dir);
}

static void test_revert_failure_changes_nothing(void)
{
        _cleanup_free_ char *dir = make_tmpdir(), *path = NULL, *sub = NULL;
        unsigned changed = 0;
        Manager *m;

        ASSERT(dir);
        ASSERT(asprintf(&path, "%s/" STATE_FILE_NAME, dir) > 0);
        ASSERT(asprintf(&sub, "%s/x", path) > 0);
        m = setup(dir);
        ASSERT(m);
        ASSERT_EQ(manager_add_port(m, 8080), 1);
        ASSERT_EQ(manager_set_fastpath(m, false), 1);
        /* a state "file" that cannot be removed: a non-empty directory */
        ASSERT_EQ(mkdir(path, 0755), 0);
        ASSERT_EQ(mkdir(sub, 0755), 0);
        ASSERT(manager_revert(m, &changed) < 0);
        ASSERT_EQ(n_changes(m), 2u);
        ASSERT(config_find_port(&m->config, 8080));
        ASSERT(!m->config.fastpath);
        rmdir(sub);
        rmdir(path);
        manager_free(m);
        rmdir(dir);
}

static void test_lo_is_refused(void)
{
        _cleanup_free_ char *dir = make_tmpdir();
        Manager *m;

        ASSERT(dir);
        m = setup(dir);
        ASSERT(m);
        ASSERT_EQ(manager_add_interface(m, "lo"), -EINVAL);
        ASSERT_EQ(manager_add_interface(m, "a/b"), -EINVAL);
        ASSERT_EQ(manager_add_interface(m, "eth0"), 0);
        ASSERT_EQ(manager_remove_interface(m, "lo"), -ENOENT);
        ASSERT_EQ(n_changes(m), 0u);
        manager_free(m);
        rmdir(dir);
}

int main(void)
{
        RUN(test_revert);
        RUN(test_revert_restores_a_port_mode);
        RUN(test_revert_failure_changes_nothing);
        RUN(test_lo_is_refused);
        TESTS_DONE();
}
