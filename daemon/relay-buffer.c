/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <sys/param.h>

#include "relay-buffer.h"

void buffer_pool_init(BufferPool *p, size_t buffer_size)
{
        *p = (BufferPool) { .buffer_size = buffer_size };
}

void buffer_pool_done(BufferPool *p)
{
        for (size_t i = 0; i < p->n_free; i++)
                free(p->free_buffers[i]);
        p->n_free = 0;
}

uint8_t *buffer_pool_get(BufferPool *p, size_t n)
{
        uint8_t *buf;

        /* a larger n: a smaller BufferSize= than the previous process had, for the bytes it
         * handed over; the buffer joins the pool afterwards like any other */
        if (n <= p->buffer_size && p->n_free > 0)
                buf = p->free_buffers[--p->n_free];
        else
                buf = malloc(MAX(n, p->buffer_size));
        if (buf)
                p->n_in_use++;
        return buf;
}

void buffer_pool_put(BufferPool *p, uint8_t *buf)
{
        if (!buf)
                return;
        p->n_in_use--;
        if (p->n_free < RELAY_MAX_FREE_BUFFERS)
                p->free_buffers[p->n_free++] = buf;
        else
                free(buf);
}
