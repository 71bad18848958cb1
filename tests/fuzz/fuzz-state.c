/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: state_parse() on the input. Besides the sanitizers it checks the round trip a
 * restart relies on: whatever parses, serialises to a file that parses to the same state. */
#include "config.h"
#include "fuzz.h"
#include "state.h"
#include "util.h"

static void assert_same_state(const Config *a, const Config *b)
{
        ASSERT(a->n_interfaces == b->n_interfaces);
        for (size_t i = 0; i < a->n_interfaces; i++)
                ASSERT(streq(a->interfaces[i], b->interfaces[i]));
        ASSERT(a->n_ports == b->n_ports);
        for (size_t i = 0; i < a->n_ports; i++) {
                ASSERT(a->ports[i].port == b->ports[i].port);
                ASSERT(a->ports[i].mode == b->ports[i].mode);
        }
        ASSERT(a->fastpath == b->fastpath);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Config c, again;
        FILE *f;
        char *buf = NULL;
        size_t len = 0;
        int r;

        log_set_max_level(0);
        config_init(&c);
        f = fuzz_fmemopen(data, size);
        if (!f)
                return 0;
        r = state_parse(f, "fuzz", &c);
        fclose(f);
        if (r >= 0) {
                for (size_t i = 0; i < c.n_interfaces; i++)
                        ASSERT(ifname_valid(c.interfaces[i]));
                for (size_t i = 0; i < c.n_ports; i++) {
                        ASSERT(c.ports[i].port != 0);
                        ASSERT(i == 0 || c.ports[i - 1].port < c.ports[i].port);
                }
                f = open_memstream(&buf, &len);
                ASSERT(f);
                ASSERT(state_serialize(f, &c) >= 0);
                fclose(f);
                config_init(&again);
                f = fmemopen(buf, len, "r");
                ASSERT(f);
                ASSERT(state_parse(f, "fuzz-again", &again) >= 0);
                fclose(f);
                assert_same_state(&c, &again);
                config_done(&again);
                free(buf);
        }
        config_done(&c);
        return 0;
}
