/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "fs-util.h"
#include "util.h"

bool path_is_fs_type(const char *path, long magic)
{
        struct statfs sfs;

        return statfs(path, &sfs) >= 0 && sfs.f_type == magic;
}

int path_join(const char *dir, const char *file, char **ret)
{
        char *p;

        if (asprintf(&p, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
                if (s)
                        *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                if (!s)
                        return 0;
                *s = '/';
        }
}

int read_one_line_file(const char *path, char **ret)
{
        _cleanup_close_ int fd = -EBADF;
        char buf[256], *s;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        s = strdup(strstrip(buf));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int write_string_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = -EBADF;

        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, s, strlen(s)) < 0)
                return -errno;
        return 0;
}
