/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "util.h"

#define PKTTYAGENT "/usr/bin/pkttyagent"

/* polkit asks for the password through an agent of the caller's session. On a terminal, start
 * polkit's text agent for the time of the call (it steps back when the session has one), as
 * systemctl does. Root needs none. */
pid_t agent_open(void)
{
        int fds[2];
        pid_t pid;

        if (geteuid() == 0 || !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO) || access(PKTTYAGENT, X_OK) < 0)
                return 0;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return 0;
        pid = fork();
        if (pid == 0) {
                char fd[16];
                int w = dup(fds[1]);  /* without O_CLOEXEC: the agent closes it once registered */

                snprintf(fd, sizeof(fd), "%d", w);
                execl(PKTTYAGENT, PKTTYAGENT, "--notify-fd", fd, "--fallback", (char *) NULL);
                _exit(EXIT_FAILURE);
        }
        safe_close(fds[1]);
        if (pid > 0) {
                struct pollfd p = { .fd = fds[0], .events = POLLIN };
                char c;

                /* wait until it is registered (it closes the pipe), but not for ever */
                if (poll(&p, 1, 5000) > 0 && read(fds[0], &c, 1) < 0)
                        log_debug_errno(errno, "Failed to wait for pkttyagent: %m");
        }
        safe_close(fds[0]);
        return pid > 0 ? pid : 0;
}

void agent_close(pid_t pid)
{
        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        (void) waitpid(pid, NULL, 0);
}
