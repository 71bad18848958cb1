/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tests.h"
#include "util.h"

static void test_parse_port(void)
{
        uint16_t p;

        ASSERT_EQ(parse_port("80", &p), 0);
        ASSERT_EQ(p, 80);
        ASSERT_EQ(parse_port("65535", &p), 0);
        ASSERT(parse_port("0", &p) < 0);
        ASSERT(parse_port("65536", &p) < 0);
        ASSERT(parse_port("", &p) < 0);
        ASSERT(parse_port("8o", &p) < 0);
        ASSERT(parse_port("-80", &p) < 0);
        ASSERT(parse_port(" 80", &p) < 0);
}

static void test_parse_uint32_decimal_or_hex(void)
{
        uint32_t v;

        ASSERT_EQ(parse_uint32("010", &v), 0);
        ASSERT_EQ(v, 10u);
        ASSERT_EQ(parse_uint32("08", &v), 0);
        ASSERT_EQ(v, 8u);
        ASSERT_EQ(parse_uint32("0x10", &v), 0);
        ASSERT_EQ(v, 16u);
        ASSERT_EQ(parse_uint32("0XfF", &v), 0);
        ASSERT_EQ(v, 255u);
        ASSERT_EQ(parse_uint32("4294967295", &v), 0);
        ASSERT_EQ(v, 4294967295u);
        ASSERT(parse_uint32("4294967296", &v) < 0);
        ASSERT(parse_uint32("0x", &v) < 0);
        ASSERT(parse_uint32("0x-1", &v) < 0);
        ASSERT(parse_uint32("0b1", &v) < 0);
}

static void test_parse_size(void)
{
        uint64_t v;

        ASSERT_EQ(parse_size("64K", &v), 0);
        ASSERT_EQ(v, 65536u);
        ASSERT_EQ(parse_size("2M", &v), 0);
        ASSERT_EQ(v, 2097152u);
        ASSERT(parse_size("1T", &v) < 0);
        ASSERT(parse_size("K", &v) < 0);
        ASSERT(parse_size("99999999999999999999", &v) < 0);
}

static void test_parse_sec(void)
{
        uint64_t v;

        ASSERT_EQ(parse_sec_usec("5", &v), 0);
        ASSERT_EQ(v, 5000000u);
        ASSERT_EQ(parse_sec_usec("250ms", &v), 0);
        ASSERT_EQ(v, 250000u);
        ASSERT_EQ(parse_sec_usec("2min", &v), 0);
        ASSERT_EQ(v, 120000000u);
        ASSERT(parse_sec_usec("5h", &v) < 0);
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

int main(void)
{
        RUN(test_parse_port);
        RUN(test_parse_uint32_decimal_or_hex);
        RUN(test_parse_size);
        RUN(test_parse_sec);
        RUN(test_ifname_valid);
        RUN(test_parse_boolean);
        TESTS_DONE();
}
