/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "strv.h"

char **strv_free(char **l)
{
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

void strv_free_n(char **l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(l[i]);
        free(l);
}

size_t strv_length(char *const *l)
{
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

int strv_split_words(const char *s, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (const char *p = s; *p;) {
                size_t len;
                char **a;

                p += strspn(p, " \t");
                len = strcspn(p, " \t");
                if (len == 0)
                        break;
                a = reallocarray(l, n + 2, sizeof(char *));
                if (!a)
                        return -ENOMEM;
                l = a;
                l[n] = strndup(p, len);
                if (!l[n])
                        return -ENOMEM;
                l[++n] = NULL;
                p += len;
        }
        *ret = TAKE_PTR(l);
        return 0;
}
