/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>

#include "output.h"
#include "util.h"

void json_string(FILE *f, const char *s)
{
        fputc('"', f);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c < 0x20)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

void format_rate(char *buf, size_t size, double rate, bool bytes, const char *noun)
{
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        size_t u = 0;

        if (!bytes) {
                /* a fraction only where it says something */
                snprintf(buf, size, rate > 0 && rate < 10 ? "%.1f%s%s/s" : "%.0f%s%s/s", rate, noun ? " " : "",
                         noun ?: "");
                return;
        }
        while (rate >= 1024 && u + 1 < ELEMENTSOF(units)) {
                rate /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, size, "%.0f B/s", rate);
        else
                snprintf(buf, size, "%.1f %s/s", rate, units[u]);
}
