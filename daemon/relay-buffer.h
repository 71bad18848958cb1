/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The relay's buffer pool: every buffer is at least buffer_size bytes; up to
 * RELAY_MAX_FREE_BUFFERS released ones are kept for reuse, idle connections hold none. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define RELAY_MAX_FREE_BUFFERS 64

typedef struct BufferPool {
        size_t buffer_size;
        uint8_t *free_buffers[RELAY_MAX_FREE_BUFFERS];
        size_t n_free;
        size_t n_in_use;            /* handed out by buffer_pool_get() and not put back */
} BufferPool;

void buffer_pool_init(BufferPool *p, size_t buffer_size);
/* Frees the spare buffers; the ones in use must have been put back. */
void buffer_pool_done(BufferPool *p);
/* A buffer of at least MAX(n, buffer_size) bytes, or NULL. */
uint8_t *buffer_pool_get(BufferPool *p, size_t n);
/* Takes back a buffer of at least buffer_size bytes (from buffer_pool_get()); NULL is a no-op. */
void buffer_pool_put(BufferPool *p, uint8_t *buf);
