/* SPDX-License-Identifier: GPL-2.0-or-later */
/* NULL-terminated arrays of strings ("strv"), for the space-separated lists of the config file
 * and the state file. */
#pragma once

#include "util.h"

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)

size_t strv_length(char *const *l);

/* Frees the first n strings of l and l itself: for arrays that keep a count instead of a NULL. */
void strv_free_n(char **l, size_t n);

/* Splits s at spaces and tabs and drops the empty words: "a  b\t" -> { "a", "b", NULL }, "" -> { NULL }.
 * *ret is always an array (possibly empty) on success. Returns 0 or -ENOMEM. */
int strv_split_words(const char *s, char ***ret);
