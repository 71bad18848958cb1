/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pieces of skfastpathctl's text and JSON output. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* s as a JSON string, quoted. */
void json_string(FILE *f, const char *s);

/* "1.5 MiB/s" for bytes, else "12/s" or, with a noun, "12 redirects/s". */
void format_rate(char *buf, size_t size, double rate, bool bytes, const char *noun);
