/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The error table: names to errno (clients) and to skfastpathctl's exit codes, and the reasons
 * an interface name is refused with. */
#include "bus-error.h"
#include "tests.h"
#include "util.h"

/* Each error name: the errno clients get (0: not ours to map) and skfastpathctl's exit code, as
 * the man pages say. */
static void test_error_names(void)
{
        static const struct {
                const char *name;
                int error, exit_code;
        } table[] = {
                { "org.skfastpath1.Error.InvalidInterfaceName", EINVAL, 3 },
                { "org.skfastpath1.Error.InvalidPort", EINVAL, 4 },
                { "org.skfastpath1.Error.NotManaged", ENOENT, 5 },
                { "org.skfastpath1.Error.LimitExceeded", E2BIG, 6 },
                { "org.skfastpath1.Error.Failed", EIO, 1 },
                { "org.skfastpath1.Error.InvalidCgroup", EINVAL, 10 },
                { "org.freedesktop.DBus.Error.AccessDenied", 0, 7 },
                { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", 0, 8 },
                { "org.freedesktop.DBus.Error.ServiceUnknown", 0, 9 },
                { "org.freedesktop.DBus.Error.NameHasNoOwner", 0, 9 },
                { "org.example.Whatever", 0, 1 },
        };

        ASSERT(sd_bus_error_add_map(skfastpath_error_map) >= 0);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                int r = sd_bus_error_set(&e, table[i].name, "x"), code = bus_error_exit_code(&e, -EIO);

                sd_bus_error_free(&e);
                if (table[i].error != 0 && r != -table[i].error)
                        FAIL("%s maps to %d, not -%d", table[i].name, r, table[i].error);
                if (code != table[i].exit_code)
                        FAIL("%s exits %d, not %d", table[i].name, code, table[i].exit_code);
        }
}

static void test_exit_codes_without_reply(void)
{
        ASSERT_EQ(bus_error_exit_code(NULL, 0), 0);
        ASSERT_EQ(bus_error_exit_code(NULL, -ENOENT), 9);        /* no bus socket */
        ASSERT_EQ(bus_error_exit_code(NULL, -ECONNREFUSED), 9);
        ASSERT_EQ(bus_error_exit_code(NULL, -EACCES), 7);
        ASSERT_EQ(bus_error_exit_code(NULL, -ENOMEM), 1);
}


static void test_interface_name_reasons(void)
{
        ASSERT_STREQ(ifname_invalid_reason(""), "is empty");
        ASSERT_STREQ(ifname_invalid_reason("abcdefghijklmnop"), "is longer than 15 bytes");
        ASSERT(!ifname_invalid_reason("abcdefghijklmno"));
        ASSERT_STREQ(ifname_invalid_reason("."), "is '.' or '..'");
        ASSERT_STREQ(ifname_invalid_reason(".."), "is '.' or '..'");
        ASSERT(!ifname_invalid_reason("..."));
        ASSERT_STREQ(ifname_invalid_reason("a/b"), "contains '/'");
        ASSERT_STREQ(ifname_invalid_reason("a:1"), "contains ':'");
        ASSERT_STREQ(ifname_invalid_reason("a b"), "contains whitespace");
        ASSERT_STREQ(ifname_invalid_reason("a\tb"), "contains whitespace");
        ASSERT_STREQ(ifname_invalid_reason("a\x7f"), "contains a non-printable or non-ASCII byte");
        ASSERT_STREQ(ifname_invalid_reason("\xc3\xa9"), "contains a non-printable or non-ASCII byte");
        ASSERT(!ifname_invalid_reason("wg0"));
        ASSERT(!ifname_invalid_reason("eth0.100"));
        ASSERT(ifname_valid("wg0") && !ifname_valid("a b"));
}

static void test_cescape(void)
{
        _cleanup_free_ char *a = cescape("a\x01\\b\xc3");

        ASSERT_STREQ(a, "a\\x01\\x5cb\\xc3");
}

int main(void)
{
        RUN(test_error_names);
        RUN(test_exit_codes_without_reply);
        RUN(test_interface_name_reasons);
        RUN(test_cescape);
        TESTS_DONE();
}
