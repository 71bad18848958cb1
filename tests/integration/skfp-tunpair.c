/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A layer-3 link for the lab: a tun device in each of two network namespaces, packets copied
 * between them, like the two ends of a wireguard tunnel.
 *
 *   skfp-tunpair NETNS_A IFNAME_A NETNS_B IFNAME_B SECONDS
 *
 * Prints "ready" once both devices exist; exits after SECONDS or on SIGTERM (the devices go with
 * it). NETNS_* are names under /run/netns. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int open_tun(const char *netns, const char *name)
{
        struct ifreq ifr = {};
        char path[256];
        int nsfd, fd;

        snprintf(path, sizeof(path), "/run/netns/%s", netns);
        nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
                fprintf(stderr, "enter %s: %s\n", path, strerror(errno));
                exit(1);
        }
        close(nsfd);
        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                fprintf(stderr, "/dev/net/tun: %s\n", strerror(errno));
                exit(1);
        }
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
                fprintf(stderr, "TUNSETIFF %s in %s: %s\n", name, netns, strerror(errno));
                exit(1);
        }
        return fd;
}

int main(int argc, char **argv)
{
        static char buf[65536];
        struct pollfd p[2];
        time_t end;

        if (argc != 6) {
                fprintf(stderr, "usage: %s NETNS_A IFNAME_A NETNS_B IFNAME_B SECONDS\n", argv[0]);
                return 2;
        }
        p[0] = (struct pollfd) { .fd = open_tun(argv[1], argv[2]), .events = POLLIN };
        p[1] = (struct pollfd) { .fd = open_tun(argv[3], argv[4]), .events = POLLIN };
        end = time(NULL) + atoi(argv[5]);
        printf("ready\n");
        fflush(stdout);

        while (time(NULL) < end) {
                if (poll(p, 2, 500) <= 0)
                        continue;
                for (int i = 0; i < 2; i++) {
                        if (!(p[i].revents & POLLIN))
                                continue;
                        /* drain a bounded batch; a full peer queue drops, as a wire would */
                        for (int k = 0; k < 64; k++) {
                                ssize_t n = read(p[i].fd, buf, sizeof(buf));

                                if (n <= 0)
                                        break;
                                (void) !write(p[!i].fd, buf, (size_t) n);
                        }
                }
        }
        return 0;
}
