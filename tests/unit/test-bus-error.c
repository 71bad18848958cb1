/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The error table: names to errno (clients) and to skfastpathctl's exit codes, and the reasons
 * an interface name is refused with. */
#include "bus-error.h"
#include "tests.h"
#include "util.h"

static int exit_code_for(const char *name)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int code;

        sd_bus_error_set(&e, name, "x");
        code = bus_error_exit_code(&e, -EIO);
        sd_bus_error_free(&e);
        return code;
}

static void test_exit_codes_follow_error_names(void)
{
        ASSERT_EQ(exit_code_for("org.skfastpath1.Error.InvalidInterfaceName"), 3);
        ASSERT_EQ(exit_code_for("org.skfastpath1.Error.InvalidPort"), 4);
        ASSERT_EQ(exit_code_for("org.skfastpath1.Error.NotManaged"), 5);
        ASSERT_EQ(exit_code_for("org.skfastpath1.Error.LimitExceeded"), 6);
        ASSERT_EQ(exit_code_for("org.skfastpath1.Error.Failed"), 1);
        ASSERT_EQ(exit_code_for("org.skfastpath1.Error.InvalidCgroup"), 10);
        ASSERT_EQ(exit_code_for("org.freedesktop.DBus.Error.AccessDenied"), 7);
        ASSERT_EQ(exit_code_for("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"), 8);
        ASSERT_EQ(exit_code_for("org.freedesktop.DBus.Error.ServiceUnknown"), 9);
        ASSERT_EQ(exit_code_for("org.freedesktop.DBus.Error.NameHasNoOwner"), 9);
        ASSERT_EQ(exit_code_for("org.example.Whatever"), 1);
}

static void test_exit_codes_without_reply(void)
{
        ASSERT_EQ(bus_error_exit_code(NULL, 0), 0);
        ASSERT_EQ(bus_error_exit_code(NULL, -ENOENT), 9);        /* no bus socket */
        ASSERT_EQ(bus_error_exit_code(NULL, -ECONNREFUSED), 9);
        ASSERT_EQ(bus_error_exit_code(NULL, -EACCES), 7);
        ASSERT_EQ(bus_error_exit_code(NULL, -ENOMEM), 1);
}

static void test_error_names_map_to_errno(void)
{
        static const struct {
                const char *name;
                int error;
        } map[] = {
                { SKFP_ERROR_NOT_MANAGED, ENOENT },
                { SKFP_ERROR_LIMIT_EXCEEDED, E2BIG },
                { SKFP_ERROR_INVALID_PORT, EINVAL },
                { SKFP_ERROR_INVALID_INTERFACE_NAME, EINVAL },
                { SKFP_ERROR_FAILED, EIO },
                { SKFP_ERROR_INVALID_CGROUP, EINVAL },
        };

        ASSERT(sd_bus_error_add_map(skfastpath_error_map) >= 0);
        for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                int r = sd_bus_error_set(&e, map[i].name, "x");

                sd_bus_error_free(&e);
                if (r != -map[i].error)
                        FAIL("%s maps to %d, not -%d", map[i].name, r, map[i].error);
        }
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
        RUN(test_exit_codes_follow_error_names);
        RUN(test_exit_codes_without_reply);
        RUN(test_error_names_map_to_errno);
        RUN(test_interface_name_reasons);
        RUN(test_cescape);
        TESTS_DONE();
}
