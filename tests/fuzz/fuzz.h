/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the libFuzzer targets: the entry point and checks that are never compiled out. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a crash like any other: libFuzzer saves the input and prints the stack
 * (the message itself goes to stderr, which the fuzz suite discards while fuzzing, but a replay
 * of the saved input shows it). ASSERT() and the others are tests.h's, never compiled out. */
#define TEST_FAILED() abort()
#include "tests.h"

/* The input as a read-only stream, for parsers that take a FILE*. glibc reads at most size
 * bytes and needs no terminating NUL, so an over-read past the input is ASan's to catch. */
static inline FILE *fuzz_fmemopen(const uint8_t *data, size_t size)
{
        return fmemopen((void *) data, size, "r");
}
