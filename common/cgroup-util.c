/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cgroup-util.h"
#include "fs-util.h"
#include "util.h"

/* Mount points escape space, tab, newline and backslash as octal (\040). */
static void unoctal(char *s)
{
        char *out = s;

        for (; *s; s++) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                    s[3] >= '0' && s[3] <= '7') {
                        *out++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
                        s += 3;
                } else
                        *out++ = *s;
        }
        *out = 0;
}

int cgroup2_root_parse(FILE *f, char **ret)
{
        _cleanup_free_ char *line = NULL;
        size_t n = 0;

        /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
        while (getline(&line, &n, f) >= 0) {
                char *mnt = NULL, *sep, *save = NULL;
                int field = 0;

                sep = strstr(line, " - ");
                if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                *sep = 0;
                for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                        if (++field == 5) {
                                mnt = tok;
                                break;
                        }
                if (!mnt)
                        continue;
                unoctal(mnt);
                mnt = strdup(mnt);
                if (!mnt)
                        return -ENOMEM;
                *ret = mnt;
                return 0;
        }
        return -ENOENT;
}

int cgroup2_root_find(char **ret)
{
        _cleanup_fclose_ FILE *f = NULL;

        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        return cgroup2_root_parse(f, ret);
}

int cgroup_self_path(const char *root, char **ret)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t n = 0;

        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -errno;
        while (getline(&line, &n, f) >= 0)
                if (strncmp(line, "0::", 3) == 0) {
                        char *p;

                        line[strcspn(line, "\n")] = 0;
                        if (asprintf(&p, "%s%s", root, line + 3) < 0)
                                return -ENOMEM;
                        *ret = p;
                        return 0;
                }
        return -ENOENT;
}

int cgroup_enter(const char *dir)
{
        _cleanup_free_ char *path = NULL;
        char pid[32];

        if (asprintf(&path, "%s/cgroup.procs", dir) < 0)
                return -ENOMEM;
        snprintf(pid, sizeof(pid), "%d", getpid());
        return write_string_file(path, pid);
}
