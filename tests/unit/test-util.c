/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tests.h"
#include "socket-util.h"
#include "util.h"

/* A parser against a table: the input, whether it is taken, and the value it then gives. */
typedef struct ParseCase {
        const char *s;
        bool ok;
        uint64_t value;
} ParseCase;

#define ASSERT_PARSES(parse, type, cases)                                                   \
        for (size_t _i = 0; _i < ELEMENTSOF(cases); _i++) {                                 \
                type _v = 0;                                                                \
                int _r = parse(cases[_i].s, &_v);                                           \
                if (cases[_i].ok ? _r != 0 || _v != cases[_i].value : _r >= 0)              \
                        FAIL("%s(\"%s\") = %d, value %llu", #parse, cases[_i].s, _r,          \
                             (unsigned long long) _v);                                      \
        }

static void test_parse_port(void)
{
        static const ParseCase cases[] = {
                { "80", true, 80 }, { "65535", true, 65535 }, { "0", false, 0 }, { "65536", false, 0 },
                { "", false, 0 }, { "8o", false, 0 }, { "-80", false, 0 }, { " 80", false, 0 },
        };

        ASSERT_PARSES(parse_port, uint16_t, cases);
}

static void test_parse_uint32_decimal_or_hex(void)
{
        static const ParseCase cases[] = {
                { "010", true, 10 }, { "08", true, 8 }, { "0x10", true, 16 }, { "0XfF", true, 255 },
                { "4294967295", true, 4294967295u }, { "4294967296", false, 0 }, { "0x", false, 0 },
                { "0x-1", false, 0 }, { "0b1", false, 0 },
        };

        ASSERT_PARSES(parse_uint32, uint32_t, cases);
}

static void test_parse_size(void)
{
        static const ParseCase cases[] = {
                { "64K", true, 65536 }, { "2M", true, 2097152 }, { "1T", false, 0 }, { "K", false, 0 },
                { "99999999999999999999", false, 0 },
        };

        ASSERT_PARSES(parse_size, uint64_t, cases);
}

static void test_parse_sec(void)
{
        static const ParseCase cases[] = {
                { "5", true, 5000000 }, { "250ms", true, 250000 }, { "2min", true, 120000000 },
                { "5h", false, 0 },
        };

        ASSERT_PARSES(parse_sec_usec, uint64_t, cases);
}

static void test_ifname_valid(void)
{
        ASSERT(ifname_valid("eth0"));
        ASSERT(ifname_valid("wg-home.1"));
        ASSERT(ifname_valid("abcdefghijklmno"));
        ASSERT(!ifname_valid("abcdefghijklmnop"));
        ASSERT(!ifname_valid(""));
        ASSERT(!ifname_valid(NULL));
        ASSERT(!ifname_valid("."));
        ASSERT(!ifname_valid(".."));
        ASSERT(!ifname_valid("a/b"));
        ASSERT(!ifname_valid("a b"));
        ASSERT(!ifname_valid("a\tb"));
        ASSERT(!ifname_valid("a\x7f"));
        ASSERT(!ifname_valid("\xc3\xa9th0"));
}

static void test_parse_boolean(void)
{
        ASSERT_EQ(parse_boolean("yes"), 1);
        ASSERT_EQ(parse_boolean("OFF"), 0);
        ASSERT(parse_boolean("2") < 0);
}

/* What counts as a relay error and what as a peer lost (org.skfastpath1(5): relay-errors, relay-resets) */
static void test_socket_error_is_peer_lost(void)
{
        static const int lost[] = { -ECONNRESET, -EPIPE, -ETIMEDOUT, -EHOSTUNREACH, -ENETUNREACH };
        static const int failed[] = { -ECONNREFUSED, -ENOMEM, -ENOBUFS, -EINVAL, -EBADF, 0 };

        for (size_t i = 0; i < ELEMENTSOF(lost); i++)
                ASSERT(socket_error_is_peer_lost(lost[i]));
        for (size_t i = 0; i < ELEMENTSOF(failed); i++)
                ASSERT(!socket_error_is_peer_lost(failed[i]));
}

int main(void)
{
        RUN(test_parse_port);
        RUN(test_parse_uint32_decimal_or_hex);
        RUN(test_parse_size);
        RUN(test_parse_sec);
        RUN(test_ifname_valid);
        RUN(test_parse_boolean);
        RUN(test_socket_error_is_peer_lost);
        TESTS_DONE();
}
