/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: rtnl_parse() on one datagram, as recv() on the rtnetlink socket would return
 * it. Besides the sanitizers it checks what daemon/link.c relies on: every link handed to the
 * handler has an ifindex > 0 and a NUL-terminated name of 1 to 15 bytes, and the count returned
 * is the number of handler calls. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "rtnl.h"
#include "util.h"

static void on_link(void *userdata, const RtnlLink *link)
{
        size_t *n = userdata, len;

        switch (link->type) {
        case RTNL_LINK_NEW:
        case RTNL_LINK_DEL:
                ASSERT(link->ifindex > 0);
                ASSERT(memchr(link->name, 0, sizeof(link->name)));
                len = strlen(link->name);
                ASSERT(len >= 1 && len <= 15);
                break;
        case RTNL_DUMP_DONE:
                break;
        case RTNL_REQUEST_FAILED:
                ASSERT(link->error != 0);
                break;
        default:
                ASSERT(!"the parser invents no other event");
        }
        (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t n = 0;
        void *buf;
        int r;

        log_set_max_level(0);
        /* the daemon receives into an aligned buffer: so do we, with the input's exact size so
         * that ASan sees any read past the end */
        buf = malloc(size > 0 ? size : 1);
        ASSERT(buf);
        if (size > 0)
                memcpy(buf, data, size);
        r = rtnl_parse(buf, size, on_link, &n);
        if (r < 0) {
                ASSERT(r == -EBADMSG);
                ASSERT(n == 0);
        } else
                ASSERT((size_t) r == n);
        free(buf);
        return 0;
}
