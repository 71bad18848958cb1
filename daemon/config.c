/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>

#include "config.h"
#include "strv.h"
#include "util.h"

void config_init(Config *c)
{
        *c = (Config) {
                .mark = 0x1f5a0001,
                .bypass_mark = 0x1f5a0002,
                .routing_table = 15001,
                .rule_priority = 15001,
                .listen_port = 15001,
                .relay = true,
                .connect_timeout_usec = 10 * 1000000ULL,
                .buffer_size = 64 * 1024,
                .max_connections = 16384,
                .stop_timeout_usec = 5 * 1000000ULL,
                .fastpath = true,
                .max_sockets = 65536,
                .max_ports = 1024,
                .max_interfaces = 64,
                .max_cgroups = CONFIG_MAX_CGROUPS,
                .log_level = LOG_LEVEL_INFO,
        };
}

void config_done(Config *c)
{
        strv_free_n(c->interfaces, c->n_interfaces);
        strv_free_n(c->cgroups, c->n_cgroups);
        free(c->ports);
        for (size_t i = 0; i < c->n_trusted_cgroups; i++)
                free(c->trusted_cgroups[i]);
        free(c->trusted_cgroups);
        free(c->cgroup_path);
        free(c->state_directory);
        free(c->pin_directory);
        upstream_done(&c->upstream);
        config_init(c);
}

const char *config_interface_invalid_reason(const char *name)
{
        const char *reason = ifname_invalid_reason(name);

        if (reason)
                return reason;
        if (streq(name, "lo"))
                return "is lo, where intercepted connections are delivered";
        return NULL;
}

bool config_has_interface(const Config *c, const char *name)
{
        for (size_t i = 0; i < c->n_interfaces; i++)
                if (streq(c->interfaces[i], name))
                        return true;
        return false;
}

int config_add_interface(Config *c, const char *name)
{
        char **a, *s;

        if (config_interface_invalid_reason(name))
                return -EINVAL;
        if (config_has_interface(c, name))
                return 0;
        s = strdup(name);
        if (!s)
                return -ENOMEM;
        a = reallocarray(c->interfaces, c->n_interfaces + 1, sizeof(char *));
        if (!a) {
                free(s);
                return -ENOMEM;
        }
        c->interfaces = a;
        c->interfaces[c->n_interfaces++] = s;
        return 1;
}

int config_remove_interface(Config *c, const char *name)
{
        for (size_t i = 0; i < c->n_interfaces; i++)
                if (streq(c->interfaces[i], name)) {
                        free(c->interfaces[i]);
                        memmove(c->interfaces + i, c->interfaces + i + 1,
                                (c->n_interfaces - i - 1) * sizeof(char *));
                        c->n_interfaces--;
                        return 1;
                }
        return 0;
}

const char *config_cgroup_invalid_reason(const char *path)
{
        /* the one rule of cgroup paths (trusted cgroups too), and the depth the BPF program
         * looks at */
        if (!cgroup_path_valid(path))
                return "is not an absolute, normalised cgroup path (no empty, '.' or '..' component, no "
                       "trailing '/', no white space) of at most 1024 bytes";
        if (config_cgroup_level(path) > CONFIG_MAX_CGROUP_LEVEL)
                return "is deeper than 31 levels";
        return NULL;
}

unsigned config_cgroup_level(const char *path)
{
        unsigned n = 0;

        if (streq(path, "/"))
                return 0;
        for (const char *p = path; *p; p++)
                if (*p == '/')
                        n++;
        return n;
}

bool config_has_cgroup(const Config *c, const char *path)
{
        for (size_t i = 0; i < c->n_cgroups; i++)
                if (streq(c->cgroups[i], path))
                        return true;
        return false;
}

int config_add_cgroup(Config *c, const char *path)
{
        char **a, *s;

        if (config_cgroup_invalid_reason(path))
                return -EINVAL;
        if (config_has_cgroup(c, path))
                return 0;
        s = strdup(path);
        if (!s)
                return -ENOMEM;
        a = reallocarray(c->cgroups, c->n_cgroups + 1, sizeof(char *));
        if (!a) {
                free(s);
                return -ENOMEM;
        }
        c->cgroups = a;
        c->cgroups[c->n_cgroups++] = s;
        return 1;
}

int config_remove_cgroup(Config *c, const char *path)
{
        for (size_t i = 0; i < c->n_cgroups; i++)
                if (streq(c->cgroups[i], path)) {
                        free(c->cgroups[i]);
                        memmove(c->cgroups + i, c->cgroups + i + 1, (c->n_cgroups - i - 1) * sizeof(char *));
                        c->n_cgroups--;
                        return 1;
                }
        return 0;
}

ConfigPort *config_find_port(const Config *c, uint16_t port)
{
        for (size_t i = 0; i < c->n_ports; i++)
                if (c->ports[i].port == port)
                        return &c->ports[i];
        return NULL;
}

/* Returns 1 when added or its mode changed, 0 when it was there already as it is. */
int config_add_port(Config *c, uint16_t port, PortMode mode)
{
        ConfigPort *p, *a;
        size_t i;

        if (port == 0)
                return -EINVAL;
        p = config_find_port(c, port);
        if (p) {
                if (p->mode == mode)
                        return 0;
                p->mode = mode;
                return 1;
        }
        a = reallocarray(c->ports, c->n_ports + 1, sizeof(ConfigPort));
        if (!a)
                return -ENOMEM;
        c->ports = a;
        for (i = 0; i < c->n_ports && c->ports[i].port < port; i++)
                ;
        memmove(c->ports + i + 1, c->ports + i, (c->n_ports - i) * sizeof(ConfigPort));
        c->ports[i] = (ConfigPort) { .port = port, .mode = mode };
        c->n_ports++;
        return 1;
}

int config_remove_port(Config *c, uint16_t port)
{
        ConfigPort *p = config_find_port(c, port);

        if (!p)
                return 0;
        memmove(p, p + 1, (c->n_ports - (size_t) (p - c->ports) - 1) * sizeof(ConfigPort));
        c->n_ports--;
        return 1;
}

static const char *const port_mode_names[_PORT_MODE_MAX] = {
        [PORT_MODE_FASTPATH] = "fastpath",
        [PORT_MODE_INTERCEPT_ONLY] = "intercept-only",
        [PORT_MODE_TRUSTED] = "trusted",
};

const char *port_mode_to_string(PortMode m)
{
        return (unsigned) m < _PORT_MODE_MAX ? port_mode_names[m] : NULL;
}

int port_mode_from_string(const char *s)
{
        for (int i = 0; i < _PORT_MODE_MAX; i++)
                if (s && streq(port_mode_names[i], s))
                        return i;
        return -EINVAL;
}

bool cgroup_path_valid(const char *path)
{
        size_t n;

        if (!path || path[0] != '/')
                return false;
        n = strlen(path);
        if (n > CGROUP_PATH_MAX)
                return false;
        if (n == 1)
                return true;
        if (path[n - 1] == '/')
                return false;
        /* every component non-empty, not "." or "..", printable, no newline */
        for (const char *p = path; *p; ) {
                const char *c = p + 1, *e = strchrnul(c, '/');
                size_t len = (size_t) (e - c);

                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                for (const char *q = c; q < e; q++)
                        if ((unsigned char) *q < 0x20 || *q == 0x7f || *q == ' ')
                                return false;
                p = e;
        }
        return true;
}

bool config_has_trusted_cgroup(const Config *c, const char *path)
{
        for (size_t i = 0; i < c->n_trusted_cgroups; i++)
                if (streq(c->trusted_cgroups[i], path))
                        return true;
        return false;
}

int config_add_trusted_cgroup(Config *c, const char *path)
{
        char **a, *s;

        if (!cgroup_path_valid(path))
                return -EINVAL;
        if (config_has_trusted_cgroup(c, path))
                return 0;
        if (c->n_trusted_cgroups >= TRUSTED_CGROUPS_MAX)
                return -E2BIG;
        s = strdup(path);
        if (!s)
                return -ENOMEM;
        a = reallocarray(c->trusted_cgroups, c->n_trusted_cgroups + 1, sizeof(char *));
        if (!a) {
                free(s);
                return -ENOMEM;
        }
        c->trusted_cgroups = a;
        c->trusted_cgroups[c->n_trusted_cgroups++] = s;
        return 1;
}

int config_remove_trusted_cgroup(Config *c, const char *path)
{
        for (size_t i = 0; i < c->n_trusted_cgroups; i++)
                if (streq(c->trusted_cgroups[i], path)) {
                        free(c->trusted_cgroups[i]);
                        memmove(c->trusted_cgroups + i, c->trusted_cgroups + i + 1,
                                (c->n_trusted_cgroups - i - 1) * sizeof(char *));
                        c->n_trusted_cgroups--;
                        return 1;
                }
        return 0;
}

/* One parser per value type. They return 0, or -errno with a static reason in *reason. */
typedef int (*parse_fn)(Config *c, const char *value, void *field, const char **reason);

static int parse_bool_field(Config *c, const char *v, void *field, const char **reason)
{
        int r = parse_boolean(v);

        if (r < 0) {
                *reason = "expected a boolean (yes/no)";
                return r;
        }
        *(bool *) field = r;
        return 0;
}

/* Stores a parsed number (r: what the parser returned) when it is acceptable, else says what was
 * expected. */
static int store_u32(int r, uint32_t x, bool acceptable, void *field, const char *expected,
                     const char **reason)
{
        if (r < 0 || !acceptable) {
                *reason = expected;
                return r < 0 ? r : -ERANGE;
        }
        *(uint32_t *) field = x;
        return 0;
}

static int store_u64(int r, uint64_t x, bool acceptable, void *field, const char *expected,
                     const char **reason)
{
        if (r < 0 || !acceptable) {
                *reason = expected;
                return r < 0 ? r : -ERANGE;
        }
        *(uint64_t *) field = x;
        return 0;
}

static int parse_positive_u32_field(Config *c, const char *v, void *field, const char **reason)
{
        uint32_t x = 0;
        int r = parse_uint32(v, &x);

        return store_u32(r, x, x != 0, field, "expected a number from 1 to 4294967295", reason);
}

static int parse_mark_field(Config *c, const char *v, void *field, const char **reason)
{
        uint32_t x = 0;
        int r = parse_uint32(v, &x);

        return store_u32(r, x, x != 0, field, "expected a non-zero 32-bit mark", reason);
}

static int parse_table_field(Config *c, const char *v, void *field, const char **reason)
{
        uint32_t x = 0;
        int r = parse_uint32(v, &x);

        /* 0 is unspecified, 253..255 are the kernel's default, main and local tables */
        return store_u32(r, x, x != 0 && (x < 253 || x > 255), field,
                         "expected a routing table number other than 0, 253, 254 and 255", reason);
}

static int parse_port_field(Config *c, const char *v, void *field, const char **reason)
{
        int r = parse_port(v, field);

        if (r < 0)
                *reason = "expected a port from 1 to 65535";
        return r;
}

static int parse_size_field(Config *c, const char *v, void *field, const char **reason)
{
        int r = parse_size(v, field);

        if (r < 0)
                *reason = "expected a size in bytes (K, M, G suffixes allowed)";
        return r;
}

static int parse_buffer_size_field(Config *c, const char *v, void *field, const char **reason)
{
        uint64_t x = 0;
        int r = parse_size(v, &x);

        return store_u64(r, x, x >= 4096 && x <= 64 * 1024 * 1024, field, "expected a size from 4K to 64M",
                         reason);
}

static int parse_timeout_field(Config *c, const char *v, void *field, const char **reason)
{
        uint64_t x = 0;
        int r = parse_sec_usec(v, &x);

        return store_u64(r, x, x != 0, field, "expected a time span such as 10, 10s or 500ms", reason);
}

/* A ".." component anywhere, last one included, climbs out of the directory that was meant. */
static bool path_has_dotdot(const char *p)
{
        for (const char *q = p; (q = strstr(q, "/..")); q++)
                if (q[3] == '/' || q[3] == 0)
                        return true;
        return false;
}

static int parse_path_field(Config *c, const char *v, void *field, const char **reason)
{
        char **p = field, *s;

        if (!*v) {
                free(*p);
                *p = NULL;
                return 0;
        }
        if (v[0] != '/' || path_has_dotdot(v) || strlen(v) >= 4096) {
                *reason = "expected an absolute path";
                return -EINVAL;
        }
        s = strdup(v);
        if (!s)
                return -ENOMEM;
        free(*p);
        *p = s;
        return 0;
}

static int parse_log_level_field(Config *c, const char *v, void *field, const char **reason)
{
        static const char *const names[] = { "err", "warning", "notice", "info", "debug" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(v, names[i])) {
                        *(int *) field = LOG_LEVEL_ERR + (int) i;
                        return 0;
                }
        *reason = "expected err, warning, notice, info or debug";
        return -EINVAL;
}

const char *attach_mode_to_string(AttachMode m)
{
        static const char *const names[_ATTACH_MODE_MAX] = {
                [ATTACH_MODE_AUTO] = "auto",
                [ATTACH_MODE_TCX] = "tcx",
                [ATTACH_MODE_CLSACT] = "clsact",
        };

        return m >= 0 && m < _ATTACH_MODE_MAX ? names[m] : NULL;
}

static int parse_attach_mode_field(Config *c, const char *v, void *field, const char **reason)
{
        for (AttachMode m = 0; m < _ATTACH_MODE_MAX; m++)
                if (streq(v, attach_mode_to_string(m))) {
                        *(AttachMode *) field = m;
                        return 0;
                }
        *reason = "expected auto, tcx or clsact";
        return -EINVAL;
}

/* Lists are space-separated; an empty assignment resets the list (as in systemd units). */
static int parse_interfaces_field(Config *c, const char *v, void *field, const char **reason)
{
        _cleanup_strv_free_ char **words = NULL;
        int r;

        if (!*v) {
                while (c->n_interfaces > 0)
                        free(c->interfaces[--c->n_interfaces]);
                return 0;
        }
        r = strv_split_words(v, &words);
        if (r < 0)
                return r;
        /* validate all before adding any, so a bad entry changes nothing */
        STRV_FOREACH(w, words)
                if (!ifname_valid(*w)) {
                        *reason = "expected interface names (1-15 printable bytes, no '/', ':' or spaces)";
                        return -EINVAL;
                }
        /* the rule of AddInterface() */
        STRV_FOREACH(w, words)
                if (config_interface_invalid_reason(*w)) {
                        *reason = "expected interface names other than lo (where intercepted connections are "
                                  "delivered)";
                        return -EINVAL;
                }
        STRV_FOREACH(w, words) {
                r = config_add_interface(c, *w);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_cgroups_field(Config *c, const char *v, void *field, const char **reason)
{
        _cleanup_strv_free_ char **words = NULL;
        int r;

        if (!*v) {
                while (c->n_cgroups > 0)
                        free(c->cgroups[--c->n_cgroups]);
                return 0;
        }
        r = strv_split_words(v, &words);
        if (r < 0)
                return r;
        STRV_FOREACH(w, words)
                if (config_cgroup_invalid_reason(*w)) {
                        *reason = "expected cgroup v2 paths below the root, normalised, beginning with '/'";
                        return -EINVAL;
                }
        STRV_FOREACH(w, words) {
                r = config_add_cgroup(c, *w);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_ports_list(Config *c, const char *v, PortMode mode, const char **reason)
{
        _cleanup_strv_free_ char **words = NULL;
        uint16_t port;
        int r;

        if (!*v) {
                for (size_t i = c->n_ports; i > 0; i--)
                        if (c->ports[i - 1].mode == mode)
                                config_remove_port(c, c->ports[i - 1].port);
                return 0;
        }
        r = strv_split_words(v, &words);
        if (r < 0)
                return r;
        STRV_FOREACH(w, words)
                if (parse_port(*w, &port) < 0) {
                        *reason = "expected ports from 1 to 65535";
                        return -EINVAL;
                }
        STRV_FOREACH(w, words) {
                (void) parse_port(*w, &port);
                r = config_add_port(c, port, mode);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_ports_field(Config *c, const char *v, void *field, const char **reason)
{
        return parse_ports_list(c, v, PORT_MODE_FASTPATH, reason);
}

static int parse_intercept_only_ports_field(Config *c, const char *v, void *field, const char **reason)
{
        return parse_ports_list(c, v, PORT_MODE_INTERCEPT_ONLY, reason);
}

static int parse_trusted_ports_field(Config *c, const char *v, void *field, const char **reason)
{
        return parse_ports_list(c, v, PORT_MODE_TRUSTED, reason);
}

static int parse_trusted_cgroups_field(Config *c, const char *v, void *field, const char **reason)
{
        _cleanup_free_ char *copy = strdup(v);
        char *save = NULL;
        size_t n = c->n_trusted_cgroups;
        int r;

        if (!copy)
                return -ENOMEM;
        if (!*v) {
                while (c->n_trusted_cgroups > 0)
                        free(c->trusted_cgroups[--c->n_trusted_cgroups]);
                return 0;
        }
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (!cgroup_path_valid(w)) {
                        *reason = "expected absolute, normalised cgroup paths below the cgroup2 root";
                        return -EINVAL;
                }
                n++;
        }
        if (n > TRUSTED_CGROUPS_MAX) {
                *reason = "too many trusted cgroups (256 at most)";
                return -E2BIG;
        }
        free(copy);
        copy = strdup(v);
        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                r = config_add_trusted_cgroup(c, w);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_upstream_field(Config *c, const char *v, void *field, const char **reason)
{
        return upstream_parse(v, field, reason);
}

static int parse_upstream_fallback_field(Config *c, const char *v, void *field, const char **reason)
{
        int r = upstream_fallback_from_string(v);

        if (r < 0) {
                *reason = "expected refuse or direct";
                return r;
        }
        *(UpstreamFallback *) field = r;
        return 0;
}

typedef struct ConfigKey {
        const char *section;
        const char *key;
        parse_fn parse;
        size_t offset;
} ConfigKey;

#define KEY(s, k, fn, field) { s, k, fn, offsetof(Config, field) }
static const ConfigKey keys[] = {
        KEY("Intercept", "Interfaces", parse_interfaces_field, interfaces),
        KEY("Intercept", "Ports", parse_ports_field, ports),
        KEY("Intercept", "InterceptOnlyPorts", parse_intercept_only_ports_field, ports),
        KEY("Intercept", "Cgroups", parse_cgroups_field, cgroups),
        KEY("Intercept", "TrustedPorts", parse_trusted_ports_field, ports),
        KEY("Intercept", "Mark", parse_mark_field, mark),
        KEY("Intercept", "BypassMark", parse_mark_field, bypass_mark),
        KEY("Intercept", "RoutingTable", parse_table_field, routing_table),
        KEY("Intercept", "RulePriority", parse_positive_u32_field, rule_priority),
        KEY("Intercept", "AttachMode", parse_attach_mode_field, attach_mode),
        KEY("Listener", "ListenPort", parse_port_field, listen_port),
        KEY("Listener", "Relay", parse_bool_field, relay),
        KEY("Listener", "ConnectTimeoutSec", parse_timeout_field, connect_timeout_usec),
        KEY("Listener", "BufferSize", parse_buffer_size_field, buffer_size),
        KEY("Listener", "MaxConnections", parse_positive_u32_field, max_connections),
        KEY("Listener", "StopTimeoutSec", parse_timeout_field, stop_timeout_usec),
        KEY("Listener", "Upstream", parse_upstream_field, upstream),
        KEY("Listener", "UpstreamFallback", parse_upstream_fallback_field, upstream_fallback),
        KEY("Fastpath", "Fastpath", parse_bool_field, fastpath),
        KEY("Fastpath", "CgroupPath", parse_path_field, cgroup_path),
        KEY("Fastpath", "MaxSockets", parse_positive_u32_field, max_sockets),
        KEY("Fastpath", "PassLargeWrites", parse_size_field, pass_large_writes),
        KEY("Fastpath", "TrustedCgroups", parse_trusted_cgroups_field, trusted_cgroups),
        KEY("Manager", "MaxPorts", parse_positive_u32_field, max_ports),
        KEY("Manager", "MaxInterfaces", parse_positive_u32_field, max_interfaces),
        KEY("Manager", "StateDirectory", parse_path_field, state_directory),
        KEY("Manager", "PinDirectory", parse_path_field, pin_directory),
        KEY("Manager", "LogLevel", parse_log_level_field, log_level),
};
#undef KEY

const char *const config_known_keys[] = {
        "Intercept.Interfaces", "Intercept.Ports", "Intercept.InterceptOnlyPorts", "Intercept.TrustedPorts",
        "Intercept.Cgroups", "Intercept.Mark",
        "Intercept.BypassMark", "Intercept.RoutingTable", "Intercept.RulePriority",
        "Intercept.AttachMode",
        "Listener.ListenPort", "Listener.Relay", "Listener.ConnectTimeoutSec", "Listener.BufferSize",
        "Listener.MaxConnections", "Listener.StopTimeoutSec", "Listener.Upstream", "Listener.UpstreamFallback",
        "Fastpath.Fastpath", "Fastpath.CgroupPath", "Fastpath.MaxSockets",
        "Fastpath.PassLargeWrites", "Fastpath.TrustedCgroups", "Manager.MaxPorts", "Manager.MaxInterfaces",
        "Manager.StateDirectory", "Manager.PinDirectory", "Manager.LogLevel", NULL,
};

static bool section_known(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].section, s))
                        return true;
        return false;
}

static int check_consistency(Config *c, const char *name)
{
        if (c->mark == c->bypass_mark)
                return log_error_errno(EINVAL, "%s: Mark= and BypassMark= must differ (both 0x%x)", name,
                        c->mark);
        if (c->n_ports > c->max_ports)
                return log_error_errno(E2BIG, "%s: %zu ports configured, more than MaxPorts=%u", name,
                        c->n_ports, c->max_ports);
        if (c->n_cgroups > c->max_cgroups)
                return log_error_errno(E2BIG, "%s: %zu cgroups selected, more than %u", name, c->n_cgroups,
                        c->max_cgroups);
        if (c->n_interfaces > c->max_interfaces)
                return log_error_errno(E2BIG, "%s: %zu interfaces configured, more than MaxInterfaces=%u",
                        name, c->n_interfaces, c->max_interfaces);
        return 0;
}

int config_parse(Config *c, FILE *f, const char *name)
{
        _cleanup_free_ char *line = NULL, *section = NULL;
        size_t alloc = 0;
        unsigned lineno = 0;
        ssize_t n;

        while ((n = getline(&line, &alloc, f)) >= 0) {
                const ConfigKey *k = NULL;
                const char *reason = "invalid value";
                char *l, *eq, *key, *value;
                int r;

                lineno++;
                if (memchr(line, 0, (size_t) n))
                        return log_error_errno(EINVAL, "%s:%u: NUL byte in line", name, lineno);
                l = strstrip(line);
                if (!*l || *l == '#' || *l == ';')
                        continue;

                if (*l == '[') {
                        size_t len = strlen(l);

                        if (len < 3 || l[len - 1] != ']')
                                return log_error_errno(EINVAL, "%s:%u: invalid section header '%s'", name,
                                        lineno, l);
                        l[len - 1] = 0;
                        if (!section_known(l + 1))
                                return log_error_errno(EINVAL, "%s:%u: unknown section [%s]", name, lineno,
                                        l + 1);
                        free(section);
                        section = strdup(l + 1);
                        if (!section)
                                return log_oom();
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq)
                        return log_error_errno(EINVAL, "%s:%u: expected Key=Value, got '%s'", name, lineno, l);
                *eq = 0;
                key = strstrip(l);
                value = strstrip(eq + 1);
                if (!section)
                        return log_error_errno(EINVAL, "%s:%u: key '%s' outside of a section", name, lineno,
                                key);
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (streq(keys[i].section, section) && streq(keys[i].key, key)) {
                                k = &keys[i];
                                break;
                        }
                if (!k)
                        return log_error_errno(EINVAL, "%s:%u: unknown key '%s' in [%s]", name, lineno, key,
                                section);
                r = k->parse(c, value, (uint8_t *) c + k->offset, &reason);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(r, "%s:%u: invalid value '%s' for %s=: %s", name, lineno,
                                streq(key, "Upstream") ? "(not shown: it may hold a password)" : value,
                                key, reason);
        }
        if (ferror(f))
                return log_error_errno(EIO, "%s: read error", name);

        return check_consistency(c, name);
}

int config_load(Config *c, const char *path, bool missing_ok)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");

        if (!f) {
                if (errno == ENOENT && missing_ok) {
                        log_debug("%s not found, using built-in defaults.", path);
                        return 0;
                }
                return log_error_errno(errno, "Failed to open %s: %m", path);
        }
        return config_parse(c, f, path);
}
