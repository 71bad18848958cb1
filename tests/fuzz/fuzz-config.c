/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: config_parse() on the input as a file, then the add/remove helpers (shared
 * with the state file and the bus) driven by the same bytes as a list of operations. Besides the
 * sanitizers, it checks what the rest of the daemon relies on: ports sorted, unique and non-zero;
 * interface names valid and unique; paths absolute without ".."; a successful parse consistent;
 * and the value helpers of util.h against a reference implementation of what they document. */
#include <ctype.h>
#include <net/if.h>

#include "config.h"
#include "fuzz.h"
#include "util.h"

/* What the path keys promise: absolute, and no ".." component to climb out of the tree. */
static bool path_acceptable(const char *p)
{
        if (!p)
                return true;
        if (p[0] != '/')
                return false;
        for (const char *q = p; (q = strstr(q, "/..")); q++)
                if (q[3] == '/' || q[3] == 0)
                        return false;
        return true;
}

/* Reference for the numbers the helpers promise (util.h): an optional '+', then decimal digits
 * or 0x and hex digits. Returns false when s is not such a number or it does not fit in 64 bits. */
static bool reference_number(const char *s, bool hex_allowed, uint64_t *ret, const char **ret_end)
{
        unsigned base = 10;
        uint64_t v = 0;
        bool overflow = false;

        if (*s == '+')
                s++;
        if (hex_allowed && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isxdigit((unsigned char) s[2])) {
                base = 16;
                s += 2;
        }
        if (!(base == 16 ? isxdigit((unsigned char) *s) : isdigit((unsigned char) *s)))
                return false;
        for (; base == 16 ? isxdigit((unsigned char) *s) : isdigit((unsigned char) *s); s++) {
                int ch = tolower((unsigned char) *s);
                unsigned d = (unsigned) (isdigit(ch) ? ch - '0' : ch - 'a' + 10);

                if (v > (UINT64_MAX - d) / base)
                        overflow = true;
                v = v * base + d;
        }
        *ret = overflow ? UINT64_MAX : v;
        *ret_end = s;
        return !overflow;
}

/* The value helpers against the reference, on any short string from the input. */
static void check_value_helpers(const char *s)
{
        const char *end;
        uint64_t ref, v64;
        uint32_t v32;
        uint16_t v16;
        bool number;
        int r;

        number = reference_number(s, true, &ref, &end) && !*end && ref <= UINT32_MAX;
        r = parse_uint32(s, &v32);
        ASSERT((r == 0) == number);
        ASSERT(r < 0 || v32 == ref);

        r = parse_port(s, &v16);
        ASSERT((r == 0) == (number && ref >= 1 && ref <= 65535));
        ASSERT(r < 0 || v16 == ref);

        number = reference_number(s, false, &ref, &end);
        if (number) {
                uint64_t mult = streq(end, "K") ? 1024 : streq(end, "M") ? 1024 * 1024 :
                                streq(end, "G") ? 1024ULL * 1024 * 1024 : !*end ? 1 : 0;

                r = parse_size(s, &v64);
                ASSERT((r == 0) == (mult > 0 && ref <= UINT64_MAX / mult));
                ASSERT(r < 0 || v64 == ref * mult);

                mult = streq(end, "ms") ? 1000 : streq(end, "min") ? 60 * 1000000ULL :
                       (!*end || streq(end, "s")) ? 1000000 : 0;
                r = parse_sec_usec(s, &v64);
                ASSERT((r == 0) == (mult > 0 && ref <= UINT64_MAX / mult));
                ASSERT(r < 0 || v64 == ref * mult);
        } else {
                ASSERT(parse_size(s, &v64) < 0);
                ASSERT(parse_sec_usec(s, &v64) < 0);
        }
}

static void check_invariants(const Config *c)
{
        ASSERT(c->n_ports == 0 || c->ports);
        for (size_t i = 0; i < c->n_ports; i++) {
                ASSERT(c->ports[i].port != 0);
                ASSERT(c->ports[i].mode == PORT_MODE_FASTPATH ||
                       c->ports[i].mode == PORT_MODE_INTERCEPT_ONLY);
                ASSERT(i == 0 || c->ports[i - 1].port < c->ports[i].port);
        }
        if (c->n_ports > 0) {
                ASSERT(config_find_port(c, c->ports[0].port) == &c->ports[0]);
                ASSERT(config_find_port(c, c->ports[c->n_ports - 1].port) == &c->ports[c->n_ports - 1]);
        }

        ASSERT(c->n_interfaces == 0 || c->interfaces);
        for (size_t i = 0; i < c->n_interfaces; i++) {
                ASSERT(ifname_valid(c->interfaces[i]));
                ASSERT(config_has_interface(c, c->interfaces[i]));
                for (size_t j = 0; j < i; j++)
                        ASSERT(!streq(c->interfaces[i], c->interfaces[j]));
        }

        ASSERT(path_acceptable(c->cgroup_path));
        ASSERT(path_acceptable(c->state_directory));
        ASSERT(path_acceptable(c->pin_directory));
        ASSERT(c->log_level >= LOG_LEVEL_ERR && c->log_level <= LOG_LEVEL_DEBUG);
}

static void check_consistent(const Config *c)
{
        ASSERT(c->mark != 0 && c->bypass_mark != 0 && c->mark != c->bypass_mark);
        ASSERT(c->n_ports <= c->max_ports);
        ASSERT(c->n_interfaces <= c->max_interfaces);
        ASSERT(c->listen_port != 0);
        ASSERT(c->routing_table != 0 && (c->routing_table < 253 || c->routing_table > 255));
        ASSERT(c->buffer_size >= 4096 && c->buffer_size <= 64 * 1024 * 1024);
        ASSERT(c->connect_timeout_usec > 0);
        ASSERT(c->rule_priority > 0 && c->max_connections > 0 && c->max_sockets > 0);
        ASSERT(c->max_ports > 0 && c->max_interfaces > 0);
}

/* Each operation is an opcode byte and two argument bytes (a port, or the length of an interface
 * name that follows). Return values are checked against what the helpers promise after each
 * operation, the whole structure at the end (checking it every time is quadratic). */
static void run_operations(Config *c, const uint8_t *p, const uint8_t *end)
{
        while (end - p >= 3) {
                uint8_t op = p[0];
                uint16_t port = (uint16_t) (p[1] << 8 | p[2]);
                size_t n_before, len;
                char name[IFNAMSIZ + 2], value[24];
                ConfigPort *found;
                bool had;
                int r;

                p += 3;
                switch (op % 7) {
                case 0:
                case 1: {
                        PortMode mode = op % 7 == 0 ? PORT_MODE_FASTPATH : PORT_MODE_INTERCEPT_ONLY;

                        found = config_find_port(c, port);
                        had = found && found->mode == mode;
                        n_before = c->n_ports;
                        r = config_add_port(c, port, mode);
                        if (port == 0) {
                                ASSERT(r == -EINVAL && c->n_ports == n_before);
                                break;
                        }
                        ASSERT(r == (had ? 0 : 1));
                        ASSERT(c->n_ports == n_before + (found ? 0 : 1));
                        found = config_find_port(c, port);
                        ASSERT(found && found->mode == mode);
                        break;
                }
                case 2:
                        had = config_find_port(c, port);
                        n_before = c->n_ports;
                        r = config_remove_port(c, port);
                        ASSERT(r == (had ? 1 : 0));
                        ASSERT(c->n_ports == n_before - (had ? 1 : 0));
                        ASSERT(!config_find_port(c, port));
                        break;
                case 3:
                case 4:
                        /* names straight from the input: valid or not, ifname_valid decides */
                        len = p[-1] % (IFNAMSIZ + 2);
                        if (len > (size_t) (end - p))
                                len = (size_t) (end - p);
                        memcpy(name, p, len);
                        name[len] = 0;
                        p += len;
                        had = config_has_interface(c, name);
                        n_before = c->n_interfaces;
                        if (op % 7 == 3) {
                                r = config_add_interface(c, name);
                                /* the config's rule: a valid name other than lo */
                                if (config_interface_invalid_reason(name)) {
                                        ASSERT(r == -EINVAL && c->n_interfaces == n_before);
                                        break;
                                }
                                ASSERT(r == (had ? 0 : 1));
                                ASSERT(c->n_interfaces == n_before + (had ? 0 : 1));
                                ASSERT(config_has_interface(c, name));
                        } else {
                                r = config_remove_interface(c, name);
                                ASSERT(r == (had ? 1 : 0));
                                ASSERT(c->n_interfaces == n_before - (had ? 1 : 0));
                                ASSERT(!config_has_interface(c, name));
                        }
                        break;
                case 5:
                        /* empty the port list from its end, as a reset does */
                        while (c->n_ports > 0)
                                ASSERT(config_remove_port(c, c->ports[c->n_ports - 1].port) == 1);
                        ASSERT(!config_find_port(c, port));
                        break;
                case 6:
                        /* a short string of the input through the value helpers */
                        len = p[-1] % 24;
                        if (len > (size_t) (end - p))
                                len = (size_t) (end - p);
                        memcpy(value, p, len);
                        value[len] = 0;
                        p += len;
                        check_value_helpers(value);
                        break;
                }
        }
        check_invariants(c);
}

/* Every "Key=value" line's value (stripped, if short) through the value helpers too. */
static void check_line_values(const uint8_t *p, const uint8_t *end)
{
        while (p < end) {
                const uint8_t *nl = memchr(p, '\n', (size_t) (end - p));
                const uint8_t *line_end = nl ? nl : end;
                const uint8_t *eq = memchr(p, '=', (size_t) (line_end - p));
                char value[64];
                size_t len;

                if (eq && (size_t) (line_end - eq - 1) < sizeof(value)) {
                        len = (size_t) (line_end - eq - 1);
                        memcpy(value, eq + 1, len);
                        value[len] = 0;
                        if (strlen(value) == len)
                                check_value_helpers(strstrip(value));
                }
                if (!nl)
                        break;
                p = nl + 1;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Config c;
        FILE *f;
        int r;

        config_init(&c);
        f = fuzz_fmemopen(size > 0 ? data : (const uint8_t *) "", size);
        if (!f)
                return 0;
        r = config_parse(&c, f, "fuzz.conf");
        fclose(f);

        /* whatever the outcome, the structure stays sound */
        check_invariants(&c);
        if (r >= 0)
                check_consistent(&c);
        else
                ASSERT(r == -EINVAL || r == -ERANGE || r == -E2BIG || r == -ENOMEM ||
                       r == -EIO);

        check_line_values(data, data + size);
        run_operations(&c, data, data + size);

        config_done(&c);
        ASSERT(c.n_ports == 0 && !c.ports && c.n_interfaces == 0 && !c.interfaces);
        return 0;
}
