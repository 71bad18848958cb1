/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A minimal test harness: each TEST() is a function; failures print the file and line. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tests_failed, tests_run;

#define ASSERT(expr)                                                                        \
        do {                                                                                \
                if (!(expr)) {                                                              \
                        fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", __FILE__,      \
                                __LINE__, __func__, #expr);                                 \
                        tests_failed++;                                                     \
                        return;                                                             \
                }                                                                           \
        } while (0)
#define ASSERT_EQ(a, b) ASSERT((a) == (b))
#define ASSERT_STREQ(a, b)                                                                  \
        do {                                                                                \
                const char *_a = (a), *_b = (b);                                            \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                    \
                        fprintf(stderr, "%s:%d: %s: '%s' != '%s'\n", __FILE__, __LINE__,   \
                                __func__, _a ? _a : "(null)", _b ? _b : "(null)");          \
                        tests_failed++;                                                     \
                        return;                                                             \
                }                                                                           \
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
