/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "fs-util.h"
#include "state.h"
#include "strv.h"
#include "util.h"

enum {
        KEY_VERSION,
        KEY_INTERFACES,
        KEY_PORTS,
        KEY_INTERCEPT_ONLY_PORTS,
        KEY_FASTPATH,
        KEY_TRUSTED_PORTS,      /* optional: absent in files of versions before receivers */
        KEY_TRUSTED_CGROUPS,    /* optional, as above */
        KEY_UPSTREAM,               /* optional: absent in files of older versions, "direct" */
        KEY_CGROUPS,             /* optional: a state file written before Cgroups= keeps the config file's */
        _KEY_MAX,
};

static const char *const key_names[_KEY_MAX] = {
        [KEY_VERSION] = "Version",
        [KEY_INTERFACES] = "Interfaces",
        [KEY_PORTS] = "Ports",
        [KEY_INTERCEPT_ONLY_PORTS] = "InterceptOnlyPorts",
        [KEY_FASTPATH] = "Fastpath",
        [KEY_TRUSTED_PORTS] = "TrustedPorts",
        [KEY_TRUSTED_CGROUPS] = "TrustedCgroups",
        [KEY_UPSTREAM] = "Upstream",
        [KEY_CGROUPS] = "Cgroups",
};

static bool key_optional(int k)
{
        return k == KEY_TRUSTED_PORTS || k == KEY_TRUSTED_CGROUPS || k == KEY_UPSTREAM || k == KEY_CGROUPS;
}

#define parse_error(name, line, fmt, ...) \
        log_error_errno(EBADMSG, "%s:%u: " fmt, (name), (line), ##__VA_ARGS__)

static int parse_interfaces(Config *c, char *value, const char *name, unsigned line)
{
        _cleanup_strv_free_ char **words = NULL;

        if (strv_split_words(value, &words) < 0)
                return log_oom();
        STRV_FOREACH(word, words) {
                const char *w = *word, *reason = config_interface_invalid_reason(w);
                int r;

                if (reason) {
                        _cleanup_free_ char *e = cescape(w);
                        return parse_error(name, line, "interface name '%s' %s", e ?: "?", reason);
                }
                if (config_has_interface(c, w))
                        return parse_error(name, line, "interface %s listed twice", w);
                r = config_add_interface(c, w);
                if (r < 0)
                        return log_oom();
        }
        return 0;
}

static int parse_cgroups(Config *c, char *value, const char *name, unsigned line)
{
        _cleanup_strv_free_ char **words = NULL;

        if (strv_split_words(value, &words) < 0)
                return log_oom();
        STRV_FOREACH(word, words) {
                const char *w = *word, *reason = config_cgroup_invalid_reason(w);

                if (reason) {
                        _cleanup_free_ char *e = cescape(w);
                        return parse_error(name, line, "cgroup '%s' %s", e ?: "?", reason);
                }
                if (config_has_cgroup(c, w))
                        return parse_error(name, line, "cgroup %s listed twice", w);
                if (config_add_cgroup(c, w) < 0)
                        return log_oom();
        }
        return 0;
}

static int parse_ports(Config *c, char *value, PortMode mode, const char *name, unsigned line)
{
        _cleanup_strv_free_ char **words = NULL;

        if (strv_split_words(value, &words) < 0)
                return log_oom();
        STRV_FOREACH(word, words) {
                const char *w = *word;
                uint16_t port;
                int r;

                if (parse_port(w, &port) < 0) {
                        _cleanup_free_ char *e = cescape(w);
                        return parse_error(name, line, "'%s' is not a port from 1 to 65535", e ?: "?");
                }
                if (config_find_port(c, port))
                        return parse_error(name, line, "port %u listed twice", port);
                r = config_add_port(c, port, mode);
                if (r < 0)
                        return log_oom();
        }
        return 0;
}

/* Moves what the state owns (interfaces, ports, the switch) from src into dst; src keeps the rest. */
static void state_move(Config *dst, Config *src, bool trusted_ports, bool trusted_cgroups)
{
        /* a file without TrustedPorts= keeps the config file's trusted ports it does not list */
        for (size_t i = 0; !trusted_ports && i < dst->n_ports; i++)
                if (dst->ports[i].mode == PORT_MODE_TRUSTED && !config_find_port(src, dst->ports[i].port))
                        (void) config_add_port(src, dst->ports[i].port, PORT_MODE_TRUSTED);
        if (trusted_cgroups) {
                strv_free_n(dst->trusted_cgroups, dst->n_trusted_cgroups);
                dst->trusted_cgroups = TAKE_PTR(src->trusted_cgroups);
                dst->n_trusted_cgroups = src->n_trusted_cgroups;
                src->n_trusted_cgroups = 0;
        }
        strv_free_n(dst->interfaces, dst->n_interfaces);
        strv_free_n(dst->cgroups, dst->n_cgroups);
        free(dst->ports);
        dst->interfaces = TAKE_PTR(src->interfaces);
        dst->n_interfaces = src->n_interfaces;
        dst->cgroups = TAKE_PTR(src->cgroups);
        dst->n_cgroups = src->n_cgroups;
        src->n_cgroups = 0;
        dst->ports = TAKE_PTR(src->ports);
        dst->n_ports = src->n_ports;
        dst->fastpath = src->fastpath;
        src->n_interfaces = src->n_ports = 0;
        if (src->upstream_restored) {
                upstream_done(&dst->upstream);
                dst->upstream = src->upstream;
                src->upstream = (Upstream) {};
                dst->upstream_restored = true;
        }
}

int state_copy(Config *dst, const Config *src)
{
        Config c;
        int r;

        config_init(&c);
        for (size_t i = 0; i < src->n_interfaces; i++) {
                r = config_add_interface(&c, src->interfaces[i]);
                if (r < 0)
                        goto finish;
        }
        for (size_t i = 0; i < src->n_ports; i++) {
                r = config_add_port(&c, src->ports[i].port, src->ports[i].mode);
                if (r < 0)
                        goto finish;
        }
        for (size_t i = 0; i < src->n_cgroups; i++) {
                r = config_add_cgroup(&c, src->cgroups[i]);
                if (r < 0)
                        goto finish;
        }
        for (size_t i = 0; i < src->n_trusted_cgroups; i++) {
                r = config_add_trusted_cgroup(&c, src->trusted_cgroups[i]);
                if (r < 0)
                        goto finish;
        }
        c.fastpath = src->fastpath;
        state_move(dst, &c, true, true);
        r = 0;
finish:
        config_done(&c);
        return r;
}

static const char *port_setting(PortMode mode)
{
        return mode == PORT_MODE_INTERCEPT_ONLY ? key_names[KEY_INTERCEPT_ONLY_PORTS] :
               mode == PORT_MODE_TRUSTED        ? key_names[KEY_TRUSTED_PORTS] :
                                                  key_names[KEY_PORTS];
}

static int diff_add(StateChange **changes, size_t *n, const char *setting, const char *value, const char *change)
{
        StateChange *a = reallocarray(*changes, *n + 1, sizeof(StateChange));

        if (!a)
                return -ENOMEM;
        *changes = a;
        a[*n] = (StateChange) { .setting = setting, .change = change };
        snprintf(a[*n].value, sizeof(a[*n].value), "%s", value);
        (*n)++;
        return 0;
}

int state_diff(const Config *file, const Config *now, StateChange **ret, size_t *ret_n)
{
        _cleanup_free_ StateChange *changes = NULL;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < now->n_interfaces; i++)
                if (!config_has_interface(file, now->interfaces[i])) {
                        r = diff_add(&changes, &n, key_names[KEY_INTERFACES], now->interfaces[i], "added");
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < file->n_interfaces; i++)
                if (!config_has_interface(now, file->interfaces[i])) {
                        r = diff_add(&changes, &n, key_names[KEY_INTERFACES], file->interfaces[i], "removed");
                        if (r < 0)
                                return r;
                }
        /* a port whose mode changed left one list for the other */
        for (PortMode mode = PORT_MODE_FASTPATH; mode < _PORT_MODE_MAX; mode++) {
                for (size_t i = 0; i < now->n_ports; i++) {
                        const ConfigPort *p = &now->ports[i], *f = config_find_port(file, p->port);
                        char v[8];

                        if (p->mode != mode || (f && f->mode == mode))
                                continue;
                        snprintf(v, sizeof(v), "%u", p->port);
                        r = diff_add(&changes, &n, port_setting(mode), v, "added");
                        if (r < 0)
                                return r;
                }
                for (size_t i = 0; i < file->n_ports; i++) {
                        const ConfigPort *f = &file->ports[i], *p = config_find_port(now, f->port);
                        char v[8];

                        if (f->mode != mode || (p && p->mode == mode))
                                continue;
                        snprintf(v, sizeof(v), "%u", f->port);
                        r = diff_add(&changes, &n, port_setting(mode), v, "removed");
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < now->n_cgroups; i++)
                if (!config_has_cgroup(file, now->cgroups[i])) {
                        r = diff_add(&changes, &n, key_names[KEY_CGROUPS], now->cgroups[i], "added");
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < file->n_cgroups; i++)
                if (!config_has_cgroup(now, file->cgroups[i])) {
                        r = diff_add(&changes, &n, key_names[KEY_CGROUPS], file->cgroups[i], "removed");
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < now->n_trusted_cgroups; i++)
                if (!config_has_trusted_cgroup(file, now->trusted_cgroups[i])) {
                        r = diff_add(&changes, &n, key_names[KEY_TRUSTED_CGROUPS], now->trusted_cgroups[i], "added");
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < file->n_trusted_cgroups; i++)
                if (!config_has_trusted_cgroup(now, file->trusted_cgroups[i])) {
                        r = diff_add(&changes, &n, key_names[KEY_TRUSTED_CGROUPS], file->trusted_cgroups[i],
                                     "removed");
                        if (r < 0)
                                return r;
                }
        if (file->fastpath != now->fastpath) {
                r = diff_add(&changes, &n, key_names[KEY_FASTPATH], now->fastpath ? "on" : "off", "set");
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(changes);
        *ret_n = n;
        return 0;
}

/* "State file PATH overrides the config file's Ports=: 8080 added, 443 removed (...)", one line
 * for each setting it changes. */
static void log_overrides(const char *path, const Config *file, const Config *state)
{
        _cleanup_free_ StateChange *changes = NULL;
        size_t n;

        if (state_diff(file, state, &changes, &n) < 0) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < n;) {
                char line[512];
                size_t j = i, k = 0;

                for (; j < n && streq(changes[j].setting, changes[i].setting) && k < sizeof(line); j++)
                        k += (size_t) snprintf(line + k, sizeof(line) - k, "%s%s %s", j > i ? ", " : "",
                                               changes[j].value, changes[j].change);
                log_notice("State file %s overrides the config file's %s=: %s (skfastpathctl revert drops "
                           "the runtime changes).", path, changes[i].setting, line);
                i = j;
        }
}

int state_parse(FILE *f, const char *name, Config *ret)
{
        _cleanup_free_ char *line = NULL;
        unsigned seen[_KEY_MAX] = {}, lineno = 0;
        size_t alloc = 0;
        ssize_t n;
        Config c;
        int r = 0;

        config_init(&c);
        while ((n = getline(&line, &alloc, f)) >= 0) {
                char *l, *eq, *value;
                int k;

                lineno++;
                if (memchr(line, 0, (size_t) n)) {
                        r = parse_error(name, lineno, "NUL byte in line");
                        goto finish;
                }
                l = strstrip(line);
                if (!*l || *l == '#')
                        continue;
                eq = strchr(l, '=');
                if (!eq) {
                        _cleanup_free_ char *e = cescape(l);
                        r = parse_error(name, lineno, "expected Key=Value, got '%s'", e ?: "?");
                        goto finish;
                }
                *eq = 0;
                value = eq + 1;
                for (k = 0; k < _KEY_MAX; k++)
                        if (streq(l, key_names[k]))
                                break;
                if (k == _KEY_MAX) {
                        _cleanup_free_ char *e = cescape(l);
                        r = parse_error(name, lineno, "unknown key '%s'", e ?: "?");
                        goto finish;
                }
                if (seen[k]) {
                        r = parse_error(name, lineno, "%s= given twice (first on line %u)", key_names[k],
                                seen[k]);
                        goto finish;
                }
                if (k != KEY_VERSION && !seen[KEY_VERSION]) {
                        r = parse_error(name, lineno, "expected Version= before %s=", key_names[k]);
                        goto finish;
                }
                seen[k] = lineno;

                switch (k) {
                case KEY_VERSION: {
                        uint32_t v;

                        if (parse_uint32(value, &v) < 0 || v != STATE_VERSION) {
                                _cleanup_free_ char *e = cescape(value);
                                r = parse_error(name, lineno, "unsupported state version '%s' (expected %d)",
                                        e ?: "?", STATE_VERSION);
                                goto finish;
                        }
                        break;
                }
                case KEY_INTERFACES:
                        r = parse_interfaces(&c, value, name, lineno);
                        break;
                case KEY_PORTS:
                        r = parse_ports(&c, value, PORT_MODE_FASTPATH, name, lineno);
                        break;
                case KEY_INTERCEPT_ONLY_PORTS:
                        r = parse_ports(&c, value, PORT_MODE_INTERCEPT_ONLY, name, lineno);
                        break;
                case KEY_TRUSTED_PORTS:
                        r = parse_ports(&c, value, PORT_MODE_TRUSTED, name, lineno);
                        break;
                case KEY_TRUSTED_CGROUPS: {
                        char *save = NULL;

                        for (char *w = strtok_r(value, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                                if (!cgroup_path_valid(w)) {
                                        _cleanup_free_ char *e = cescape(w);
                                        r = parse_error(name, lineno, "'%s' is not a normalised cgroup path", e ?: "?");
                                        goto finish;
                                }
                                if (config_has_trusted_cgroup(&c, w)) {
                                        r = parse_error(name, lineno, "cgroup %s listed twice", w);
                                        goto finish;
                                }
                                r = config_add_trusted_cgroup(&c, w);
                                if (r < 0) {
                                        r = r == -E2BIG ? parse_error(name, lineno, "more than %d trusted cgroups",
                                                                      TRUSTED_CGROUPS_MAX) : log_oom();
                                        goto finish;
                                }
                        }
                        r = 0;
                        break;
                }
                case KEY_FASTPATH:
                        r = parse_boolean(value);
                        if (r < 0) {
                                _cleanup_free_ char *e = cescape(value);
                                r = parse_error(name, lineno, "Fastpath= expects yes or no, got '%s'", e ?: "?");
                                goto finish;
                        }
                        c.fastpath = r;
                        r = 0;
                        break;
                case KEY_UPSTREAM: {
                        const char *reason = NULL;

                        r = upstream_parse(value, &c.upstream, &reason);
                        c.upstream_restored = true;
                        if (r == -EINVAL)
                                r = parse_error(name, lineno, "Upstream= is invalid (not shown: it may hold a "
                                                "password): %s", reason);
                        break;
                }
                case KEY_CGROUPS:
                        r = parse_cgroups(&c, value, name, lineno);
                        break;
                }
                if (r < 0)
                        goto finish;
        }
        if (ferror(f)) {
                r = log_error_errno(EIO, "%s: read error", name);
                goto finish;
        }
        if (!seen[KEY_CGROUPS])
                for (size_t i = 0; i < ret->n_cgroups; i++)
                        if (config_add_cgroup(&c, ret->cgroups[i]) < 0) {
                                r = log_oom();
                                goto finish;
                        }
        for (int k = 0; k < _KEY_MAX; k++)
                if (!seen[k] && !key_optional(k)) {
                        r = parse_error(name, lineno, "%s= is missing (truncated file?)", key_names[k]);
                        goto finish;
                }

        /* Hand over only what the state owns. */
        state_move(ret, &c, true, true);
        ret->state_has_trusted_ports = seen[KEY_TRUSTED_PORTS] > 0;
        ret->state_has_trusted_cgroups = seen[KEY_TRUSTED_CGROUPS] > 0;
        r = 0;
finish:
        config_done(&c);
        return r;
}

static void write_ports(FILE *f, const char *key, const Config *c, PortMode mode)
{
        const char *sep = "";

        fprintf(f, "%s=", key);
        for (size_t i = 0; i < c->n_ports; i++)
                if (c->ports[i].mode == mode) {
                        fprintf(f, "%s%u", sep, c->ports[i].port);
                        sep = " ";
                }
        fputc('\n', f);
}

int state_serialize(FILE *f, const Config *c)
{
        fputs("# skfastpathd runtime state, rewritten after every change made over D-Bus.\n"
              "# It replaces the config file's Interfaces=, Ports=, InterceptOnlyPorts=, TrustedPorts=,\n"
              "# Fastpath=, TrustedCgroups=, Cgroups= and Upstream=;\n"
              "# remove it (daemon stopped) to start from the config file again.\n", f);
        fprintf(f, "Version=%d\n", STATE_VERSION);
        fputs("Interfaces=", f);
        for (size_t i = 0; i < c->n_interfaces; i++)
                fprintf(f, "%s%s", i ? " " : "", c->interfaces[i]);
        fputc('\n', f);
        write_ports(f, "Ports", c, PORT_MODE_FASTPATH);
        write_ports(f, "InterceptOnlyPorts", c, PORT_MODE_INTERCEPT_ONLY);
        fprintf(f, "Fastpath=%s\n", c->fastpath ? "yes" : "no");
        write_ports(f, "TrustedPorts", c, PORT_MODE_TRUSTED);
        fputs("TrustedCgroups=", f);
        for (size_t i = 0; i < c->n_trusted_cgroups; i++)
                fprintf(f, "%s%s", i ? " " : "", c->trusted_cgroups[i]);
        fputc('\n', f);
        fputs("Cgroups=", f);
        for (size_t i = 0; i < c->n_cgroups; i++)
                fprintf(f, "%s%s", i ? " " : "", c->cgroups[i]);
        fputc('\n', f);
        {
                _cleanup_free_ char *u = upstream_to_string(&c->upstream, false);

                if (!u)
                        return -ENOMEM;
                fprintf(f, "Upstream=%s\n", u);
        }
        if (fflush(f) != 0 || ferror(f))
                return -(errno ?: EIO);
        return 0;
}

int state_directory_resolve(const Config *c, char **ret)
{
        const char *e;
        char *d;

        if (c->state_directory)
                d = strdup(c->state_directory);
        else if ((e = getenv("STATE_DIRECTORY")) && *e)
                /* systemd sets a colon-separated list when StateDirectory= names several */
                d = strndup(e, strcspn(e, ":"));
        else
                d = strdup(DEFAULT_STATE_DIRECTORY);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

/* Keeps a file that could not be used, for the administrator to look at. */
static int move_aside(const char *dir, const char *path)
{
        char stamp[32];
        struct tm tm;
        time_t now = time(NULL);

        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
        for (unsigned i = 0; i < 100; i++) {
                _cleanup_free_ char *aside = NULL;
                int r;

                r = i == 0 ? asprintf(&aside, "%s/" STATE_FILE_NAME ".corrupt-%s", dir, stamp)
                           : asprintf(&aside, "%s/" STATE_FILE_NAME ".corrupt-%s.%u", dir, stamp, i);
                if (r < 0)
                        return -ENOMEM;
                if (renameat2(AT_FDCWD, path, AT_FDCWD, aside, RENAME_NOREPLACE) >= 0) {
                        log_warning("Kept the unusable state file as %s; starting from the config file.", aside);
                        return 0;
                }
                if (errno != EEXIST)
                        return log_error_errno(errno, "Failed to rename %s to %s: %m", path, aside);
        }
        return log_error_errno(EEXIST, "Failed to find a free name to keep %s aside.", path);
}

int state_load(const char *dir, Config *c)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        Config s;
        int r;

        r = path_join(dir, STATE_FILE_NAME, &path);
        if (r < 0)
                return log_oom();
        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT) {
                        log_debug("No state file %s, starting from the config file.", path);
                        return 0;
                }
                return log_error_errno(errno, "Failed to open %s: %m", path);
        }

        config_init(&s);
        r = state_parse(f, path, &s);
        if (r == -ENOMEM) {
                config_done(&s);
                return r;
        }
        if (r >= 0 && s.n_ports > c->max_ports) {
                log_error("%s: %zu ports, more than MaxPorts=%u.", path, s.n_ports, c->max_ports);
                r = -E2BIG;
        }
        if (r >= 0 && s.n_interfaces > c->max_interfaces) {
                log_error("%s: %zu interfaces, more than MaxInterfaces=%u.", path, s.n_interfaces,
                        c->max_interfaces);
                r = -E2BIG;
        }
        if (r < 0) {
                config_done(&s);
                r = move_aside(dir, path);
                return r < 0 ? r : 0;
        }

        log_overrides(path, c, &s);
        state_move(c, &s, s.state_has_trusted_ports, s.state_has_trusted_cgroups);
        config_done(&s);
        log_info("Restored state from %s: %zu interfaces, %zu ports, fastpath %s.", path, c->n_interfaces,
                c->n_ports, c->fastpath ? "on" : "off");
        return 1;
}

int state_save(const char *dir, const Config *c)
{
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int dfd = -EBADF;
        FILE *f;
        int fd, r;

        r = mkdir_p(dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create the state directory %s: %m", dir);
        if (path_join(dir, STATE_FILE_NAME, &path) < 0 || path_join(dir, "." STATE_FILE_NAME ".XXXXXX", &tmp) < 0)
                return log_oom();

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create a temporary file in %s: %m", dir);
        f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                safe_close(fd);
                goto fail;
        }
        r = state_serialize(f, c);
        /* 0600: Upstream= may hold a proxy's password */
        if (r >= 0 && fchmod(fd, 0600) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (fclose(f) != 0 && r >= 0)
                r = -errno;
        if (r < 0)
                goto fail;
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto fail;
        }

        /* The rename itself must survive a crash too; the new file is in place either way. */
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                log_warning_errno(errno, "Failed to sync the state directory %s, ignoring: %m", dir);
        log_debug("Saved state to %s.", path);
        return 0;

fail:
        (void) unlink(tmp);
        return log_error_errno(r, "Failed to write the state file %s: %m", path);
}

int state_remove(const char *dir)
{
        _cleanup_free_ char *path = NULL;

        if (path_join(dir, STATE_FILE_NAME, &path) < 0)
                return -ENOMEM;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 1;
}
