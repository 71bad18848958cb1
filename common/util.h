/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers shared by every room of the daemon and its tools: cleanup, ownership, logging. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define TAKE_PTR(p)                             \
        ({                                      \
                typeof(p) _p_ = (p);            \
                (p) = NULL;                     \
                _p_;                            \
        })
#define TAKE_FD(fd)                             \
        ({                                      \
                int _fd_ = (fd);                \
                (fd) = -EBADF;                  \
                _fd_;                           \
        })

static inline void freep(void *p)
{
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd)
{
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p)             \
        {                                               \
                if (*p)                                 \
                        *p = func(*p);                  \
        }

static inline bool streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)

/* Logging: stderr with sd-daemon priority prefixes ("<3>") so journald keeps the levels. */
enum {
        LOG_LEVEL_ERR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_prefix(bool prefix);
/* Logs and returns -abs(error) (or 0 when error is 0); "%m" expands to strerror(error). */
int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...) log_internal((level), (error), __VA_ARGS__)
#define log_debug(...) log_internal(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_LEVEL_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_internal(LOG_LEVEL_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_LEVEL_ERR, (e), __VA_ARGS__)
#define log_oom() log_internal(LOG_LEVEL_ERR, ENOMEM, "Out of memory.")

/* Parsing helpers shared by the config parser, the state file and skfastpathctl. */
int parse_boolean(const char *s);                       /* 1, 0 or -EINVAL */
int parse_uint32(const char *s, uint32_t *ret);          /* decimal or 0x hex */
int parse_port(const char *s, uint16_t *ret);            /* 1..65535 */
int parse_size(const char *s, uint64_t *ret);            /* 64K, 1M, 1G (base 1024) */
int parse_sec_usec(const char *s, uint64_t *ret_usec);   /* "5", "5s", "500ms" */
bool ifname_valid(const char *s);
/* Why ifname_valid() refuses s ("is empty", "is longer than 15 bytes", ...), NULL when valid. */
const char *ifname_invalid_reason(const char *s);
/* A printable copy of s for messages: \\, non-printable and non-ASCII bytes as \\xNN. */
char *cescape(const char *s);
char *strstrip(char *s);
