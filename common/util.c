/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>

#include "util.h"

static int max_level = LOG_LEVEL_INFO;
static bool use_prefix = true;

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

void log_set_prefix(bool prefix)
{
        use_prefix = prefix;
}

int log_internal(int level, int error, const char *format, ...)
{
        int saved = errno;
        va_list ap;

        if (error < 0)
                error = -error;
        if (level <= max_level) {
                char buf[2048];

                /* %m must print the error we were given, not whatever errno is now */
                errno = error;
                va_start(ap, format);
                vsnprintf(buf, sizeof(buf), format, ap);
                va_end(ap);
                if (use_prefix)
                        fprintf(stderr, "<%d>%s\n", level, buf);
                else
                        fprintf(stderr, "%s\n", buf);
        }
        errno = saved;
        return -error;
}

int parse_boolean(const char *s)
{
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

int parse_uint32(const char *s, uint32_t *ret)
{
        unsigned long long v;
        const char *digits;
        char *end;

        if (!s || !*s || *s == '-' || isspace((unsigned char) *s))
                return -EINVAL;
        /* "0x" means hex, but a leading 0 does not mean octal (strtoull's base 0 would read "010"
         * as 8 and refuse "08"): numbers in the config are decimal, as the docs say. */
        digits = s + (*s == '+');
        errno = 0;
        v = strtoull(s, &end, digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') ? 16 : 10);
        if (errno == ERANGE || v > UINT32_MAX)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

int parse_port(const char *s, uint16_t *ret)
{
        uint32_t v;
        int r;

        r = parse_uint32(s, &v);
        if (r < 0)
                return r;
        if (v == 0 || v > 65535)
                return -ERANGE;
        *ret = (uint16_t) v;
        return 0;
}

typedef struct Suffix {
        const char *name;
        uint64_t factor;
} Suffix;

/* A decimal number with an optional unit from table (the entry "" is the unit without suffix). */
static int parse_with_suffix(const char *s, const Suffix *table, size_t n_table, uint64_t *ret)
{
        unsigned long long v;
        uint64_t mult = 0;
        char *end;

        if (!s || !*s || *s == '-' || isspace((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (end == s)
                return -EINVAL;
        for (size_t i = 0; i < n_table; i++)
                if (streq(end, table[i].name)) {
                        mult = table[i].factor;
                        break;
                }
        if (mult == 0)
                return -EINVAL;
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
        static const Suffix table[] = {
                { "", 1 }, { "K", 1024 }, { "M", 1024 * 1024 }, { "G", 1024ULL * 1024 * 1024 },
        };

        return parse_with_suffix(s, table, ELEMENTSOF(table), ret);
}

int parse_sec_usec(const char *s, uint64_t *ret_usec)
{
        static const Suffix table[] = {
                { "", 1000000 }, { "s", 1000000 }, { "ms", 1000 }, { "min", 60 * 1000000ULL },
        };

        return parse_with_suffix(s, table, ELEMENTSOF(table), ret_usec);
}

bool ifname_valid(const char *s)
{
        return !ifname_invalid_reason(s);
}

const char *ifname_invalid_reason(const char *s)
{
        size_t n;

        if (!s)
                return "is missing";
        n = strlen(s);
        if (n == 0)
                return "is empty";
        if (n >= IFNAMSIZ)
                return "is longer than 15 bytes";
        if (streq(s, ".") || streq(s, ".."))
                return "is '.' or '..'";
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char) *p;

                if (c == '/')
                        return "contains '/'";
                if (c == ':')
                        return "contains ':'";
                if (c == ' ' || (c >= '\t' && c <= '\r'))
                        return "contains whitespace";
                if (c < 32 || c >= 127)
                        return "contains a non-printable or non-ASCII byte";
        }
        return NULL;
}

char *cescape(const char *s)
{
        size_t n = strlen(s);
        char *r = malloc(n * 4 + 1), *t = r;

        if (!r)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '\\' || c < 32 || c >= 127)
                        t += sprintf(t, "\\x%02x", c);
                else
                        *t++ = (char) c;
        }
        *t = 0;
        return r;
}

char *strstrip(char *s)
{
        char *e;

        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = 0;
        return s;
}
