/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the relay's handover reader (handover-format.c) on the input as the state
 * memfd, with as many sockets in flight as its header asks for (up to 8 connections; more make a
 * mismatch). Besides the sanitizers it checks that whatever is read back holds no more than the
 * limit, and that neither buffers nor fds are left behind, whatever the input. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "handover-format.h"
#include "util.h"

#define MAX_CONNECTIONS 8

static int send_fds(int sock, const int *fds, size_t n)
{
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 2 * MAX_CONNECTIONS)];
        } control = {};
        char byte = 'S';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n),
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
        return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/* The lowest free fd: grows if an iteration leaks one. */
static int lowest_free_fd(void)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        ASSERT(fd >= 0);
        close(fd);
        return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        HandoverReader *rd = NULL;
        int fds[2 * MAX_CONNECTIONS], sv[2], state, baseline, r;
        uint32_t n = 0;
        BufferPool pool;

        log_set_max_level(0);
        baseline = lowest_free_fd();
        state = memfd_create("fuzz-handover", MFD_CLOEXEC);
        ASSERT(state >= 0);
        ASSERT(size == 0 || write(state, data, size) == (ssize_t) size);
        ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        if (size >= 12)
                memcpy(&n, data + 8, sizeof(n));
        n = n > MAX_CONNECTIONS ? MAX_CONNECTIONS : n;
        for (uint32_t i = 0; i < 2 * n; i++) {
                fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                ASSERT(fds[i] >= 0);
        }
        if (n > 0)
                ASSERT(send_fds(sv[0], fds, 2 * n) == 0);
        for (uint32_t i = 0; i < 2 * n; i++)
                close(fds[i]);
        close(sv[0]);

        buffer_pool_init(&pool, 4096);
        r = handover_reader_new(&rd, state, sv[1]);
        if (r >= 0) {
                RelayConnectionState st;

                ASSERT(handover_reader_n_connections(rd) == n);
                while ((r = handover_reader_next(rd, &pool, &st)) > 0)
                        for (int s = 0; s < 2; s++) {
                                ASSERT(st.fd[s] >= 0);
                                ASSERT(st.n_pending[s] <= HANDOVER_MAX_PENDING);
                                ASSERT(!st.pending[s] == (st.n_pending[s] == 0));
                                close(st.fd[s]);
                                buffer_pool_put(&pool, st.pending[s]);
                        }
        }
        ASSERT(r == 0 || r == -EBADMSG || r == -EPROTO || r == -E2BIG);
        handover_reader_free(rd);
        ASSERT(pool.n_in_use == 0);
        buffer_pool_done(&pool);
        ASSERT(lowest_free_fd() == baseline);
        return 0;
}
