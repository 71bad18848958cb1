/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The assertion harness of the C tests (unit, bpf, fuzz). A failed check prints where and what,
 * then runs TEST_FAILED(), which the includer may define before including this file:
 *   unit tests (the default): count the failure and return from the void test; RUN() runs a test
 *     and says ok or FAIL, TESTS_DONE() sums up and returns main's exit code;
 *   tests/bpf: "return -1" from the int test, whose runner says ok or FAIL;
 *   tests/fuzz: abort(), a crash like any other: libFuzzer saves the input and prints the stack. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tests_failed __attribute__((unused)), tests_run __attribute__((unused));

#ifndef TEST_FAILED
#define TEST_FAILED()                                                                       \
        do {                                                                                \
                tests_failed++;                                                             \
                return;                                                                     \
        } while (0)
#endif

#define FAIL(...)                                                                           \
        do {                                                                                \
                fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, __func__);               \
                fprintf(stderr, __VA_ARGS__);                                               \
                fputc('\n', stderr);                                                        \
                TEST_FAILED();                                                              \
        } while (0)

#define ASSERT(expr)                                                                        \
        do {                                                                                \
                if (!(expr))                                                                \
                        FAIL("assertion failed: %s", #expr);                                \
        } while (0)
#define ASSERT_EQ(a, b) ASSERT((a) == (b))
#define ASSERT_EQ_U64(a, b)                                                                 \
        do {                                                                                \
                uint64_t _a = (a), _b = (b);                                                \
                if (_a != _b)                                                               \
                        FAIL("%s == %llu, expected %s == %llu", #a, (unsigned long long) _a,  \
                             #b, (unsigned long long) _b);                                  \
        } while (0)
#define ASSERT_STREQ(a, b)                                                                  \
        do {                                                                                \
                const char *_a = (a), *_b = (b);                                            \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                      \
                        FAIL("'%s' != '%s'", _a ? _a : "(null)", _b ? _b : "(null)");       \
        } while (0)
/* expr returns 0 or more, -errno, or -1 after a failed check inside it (said already) */
#define ASSERT_OK(expr)                                                                     \
        do {                                                                                \
                int _r = (expr);                                                            \
                if (_r == -1)                                                               \
                        FAIL("%s failed", #expr);                                           \
                if (_r < 0)                                                                 \
                        FAIL("%s failed: %s", #expr, strerror(-_r));                        \
        } while (0)

#define RUN(fn)                                                                             \
        do {                                                                                \
                int _before = tests_failed;                                                 \
                tests_run++;                                                                \
                fn();                                                                       \
                printf("%s %s\n", tests_failed == _before ? "ok  " : "FAIL", #fn);          \
        } while (0)

#define TESTS_DONE()                                                                        \
        do {                                                                                \
                printf("%d passed, %d failed\n", tests_run - tests_failed, tests_failed);   \
                return tests_failed ? EXIT_FAILURE : EXIT_SUCCESS;                          \
        } while (0)
