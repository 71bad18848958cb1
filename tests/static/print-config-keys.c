/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prints every "Section.Key" the config parser knows, one a line (for the man page check). */
#include <stdio.h>

#include "config.h"

int main(void)
{
        for (const char *const *k = config_known_keys; *k; k++)
                puts(*k);
        return 0;
}
