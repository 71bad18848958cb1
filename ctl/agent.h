/* SPDX-License-Identifier: GPL-2.0-or-later */
/* polkit's text agent (pkttyagent) for the time of a call that may ask for a password. */
#pragma once

#include <sys/types.h>

/* Starts the agent where one can ask (a terminal, not root); its pid, or 0 for none. */
pid_t agent_open(void);
void agent_close(pid_t pid);
