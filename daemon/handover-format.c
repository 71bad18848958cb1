/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handover-format.h"
#include "socket-util.h"
#include "util.h"

#define HANDOVER_MAGIC "SKFPRLY1"
#define HANDOVER_STATE_MEMFD_NAME "skfp-relay-state"
/* SCM_MAX_FD is 253: an even number of fds per message, a connection never spans two */
#define FDS_PER_MESSAGE 252
#define SOCKET_SNDBUF (64 * 1024 * 1024)

enum {
        FLAG_CONNECTING = 1 << 0,
        FLAG_EOF_CLIENT = 1 << 1,       /* eof[RELAY_SIDE_CLIENT], ... */
        FLAG_SHUT_CLIENT = 1 << 2,
        FLAG_EOF_UPSTREAM = 1 << 3,
        FLAG_SHUT_UPSTREAM = 1 << 4,
        FLAGS_ALL = (1 << 5) - 1,
};

typedef struct HandoverHeader {
        char magic[8];
        uint32_t n_connections;
        uint32_t pad;
} HandoverHeader;

typedef struct HandoverRecord {
        uint32_t flags;
        uint32_t pad;
        uint64_t pending[2];   /* unwritten bytes of direction 0 and 1, following the record */
} HandoverRecord;

struct HandoverWriter {
        int state, tx, rx;
        uint32_t n_announced, n_added;
        int batch[FDS_PER_MESSAGE];
        size_t n_batch;
        uint64_t buffered;
};

struct HandoverReader {
        int state;
        off_t offset, size;
        uint32_t n_connections;
        int *fds;
        size_t n_fds, next;
};

static int write_all(int fd, const void *buf, size_t n)
{
        const uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static int pread_all(int fd, void *buf, size_t n, off_t *offset)
{
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = pread(fd, p, n, *offset);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EBADMSG;
                p += k;
                n -= (size_t) k;
                *offset += k;
        }
        return 0;
}

static int send_fds(int sock, const int *fds, size_t n)
{
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * FDS_PER_MESSAGE)];
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
        if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* Every fd in flight on sock, in order, until EOF. */
static int recv_fds(int sock, int **ret, size_t *ret_n)
{
        _cleanup_free_ int *fds = NULL;
        size_t n = 0;
        int r = 0;

        for (;;) {
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int) * (FDS_PER_MESSAGE + 1))];
                } control = {};
                char byte;
                struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.buf,
                        .msg_controllen = sizeof(control.buf),
                };
                ssize_t k = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        /* EAGAIN: the writer did not close its end, it stopped half-way */
                        if (k < 0)
                                r = errno == EAGAIN ? -EBADMSG : -errno;
                        break;
                }
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                        size_t m;
                        int *a;

                        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                                continue;
                        m = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        a = reallocarray(fds, n + m, sizeof(int));
                        if (!a) {
                                int tmp[FDS_PER_MESSAGE + 1];

                                memcpy(tmp, CMSG_DATA(cm), m * sizeof(int));
                                close_many(tmp, m);
                                r = -ENOMEM;
                                continue;
                        }
                        fds = a;
                        memcpy(fds + n, CMSG_DATA(cm), m * sizeof(int));
                        n += m;
                }
                if (mh.msg_flags & MSG_CTRUNC)
                        r = -EBADMSG;
        }
        *ret = TAKE_PTR(fds);
        *ret_n = n;
        return r;
}

int handover_writer_new(HandoverWriter **ret, uint32_t n_connections)
{
        _cleanup_(handover_writer_freep) HandoverWriter *w = NULL;
        HandoverHeader hdr = { .magic = HANDOVER_MAGIC, .n_connections = n_connections };
        int sv[2], sndbuf = SOCKET_SNDBUF, q;

        w = calloc(1, sizeof(HandoverWriter));
        if (!w)
                return -ENOMEM;
        w->state = w->tx = w->rx = -EBADF;
        w->n_announced = n_connections;

        w->state = memfd_create(HANDOVER_STATE_MEMFD_NAME, MFD_CLOEXEC);
        if (w->state < 0)
                return -errno;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        w->tx = sv[0];
        w->rx = sv[1];
        /* a message per 126 connections; more than the default buffer holds beyond ~25,000
         * (needs CAP_NET_ADMIN; without it the default stays) */
        (void) setsockopt(w->tx, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
        q = write_all(w->state, &hdr, sizeof(hdr));
        if (q < 0)
                return q;
        *ret = TAKE_PTR(w);
        return 0;
}

HandoverWriter *handover_writer_free(HandoverWriter *w)
{
        if (!w)
                return NULL;
        safe_close(w->state);
        safe_close(w->tx);
        safe_close(w->rx);
        free(w);
        return NULL;
}

int handover_writer_add(HandoverWriter *w, const RelayConnectionState *state)
{
        HandoverRecord rec = {
                .flags = (state->connecting ? FLAG_CONNECTING : 0) |
                         (state->eof[RELAY_SIDE_CLIENT] ? FLAG_EOF_CLIENT : 0) |
                         (state->shut[RELAY_SIDE_CLIENT] ? FLAG_SHUT_CLIENT : 0) |
                         (state->eof[RELAY_SIDE_UPSTREAM] ? FLAG_EOF_UPSTREAM : 0) |
                         (state->shut[RELAY_SIDE_UPSTREAM] ? FLAG_SHUT_UPSTREAM : 0),
                .pending = { state->n_pending[0], state->n_pending[1] },
        };
        int q;

        if (w->n_added >= w->n_announced)
                return -EBADMSG;
        q = write_all(w->state, &rec, sizeof(rec));
        for (int s = 0; s < 2 && q >= 0; s++)
                if (state->n_pending[s] > 0)
                        q = write_all(w->state, state->pending[s], state->n_pending[s]);
        if (q < 0)
                return q;
        w->buffered += state->n_pending[0] + state->n_pending[1];

        w->batch[w->n_batch++] = state->fd[RELAY_SIDE_CLIENT];
        w->batch[w->n_batch++] = state->fd[RELAY_SIDE_UPSTREAM];
        if (w->n_batch == FDS_PER_MESSAGE) {
                q = send_fds(w->tx, w->batch, w->n_batch);
                if (q < 0)
                        return q;
                w->n_batch = 0;
        }
        w->n_added++;
        return 0;
}

int handover_writer_finish(HandoverWriter *w, int *ret_state, int *ret_sockets, uint64_t *ret_buffered)
{
        int q;

        if (w->n_added != w->n_announced)
                return -EBADMSG;
        if (w->n_batch > 0) {
                q = send_fds(w->tx, w->batch, w->n_batch);
                if (q < 0)
                        return q;
                w->n_batch = 0;
        }
        w->tx = safe_close(w->tx);   /* the reader sees EOF after the last one */
        *ret_state = TAKE_FD(w->state);
        *ret_sockets = TAKE_FD(w->rx);
        if (ret_buffered)
                *ret_buffered = w->buffered;
        return 0;
}

int handover_reader_new(HandoverReader **ret, int state_fd, int sockets_fd)
{
        _cleanup_(handover_reader_freep) HandoverReader *rd = NULL;
        _cleanup_close_ int sock = sockets_fd;
        HandoverHeader hdr = {};
        struct stat st;
        int q;

        rd = calloc(1, sizeof(HandoverReader));
        if (!rd) {
                safe_close(state_fd);
                return -ENOMEM;
        }
        rd->state = state_fd;
        if (sock >= 0) {
                q = recv_fds(sock, &rd->fds, &rd->n_fds);
                if (q < 0)
                        return q;
        }
        if (rd->state < 0 || sock < 0)
                return -ENOENT;
        if (fstat(rd->state, &st) < 0)
                return -errno;
        rd->size = st.st_size;
        q = pread_all(rd->state, &hdr, sizeof(hdr), &rd->offset);
        if (q < 0)
                return q;
        if (memcmp(hdr.magic, HANDOVER_MAGIC, sizeof(hdr.magic)) != 0)
                return -EPROTO;
        if ((size_t) hdr.n_connections * 2 != rd->n_fds)
                return -EBADMSG;
        rd->n_connections = hdr.n_connections;
        *ret = TAKE_PTR(rd);
        return 0;
}

HandoverReader *handover_reader_free(HandoverReader *rd)
{
        if (!rd)
                return NULL;
        if (rd->next < rd->n_fds)
                close_many(rd->fds + rd->next, rd->n_fds - rd->next);
        free(rd->fds);
        safe_close(rd->state);
        free(rd);
        return NULL;
}

uint32_t handover_reader_n_connections(const HandoverReader *rd)
{
        return rd->n_connections;
}

int handover_reader_next(HandoverReader *rd, BufferPool *pool, RelayConnectionState *ret)
{
        RelayConnectionState st = { .fd = { -EBADF, -EBADF } };
        HandoverRecord rec;
        int q;

        if (rd->next >= rd->n_fds)
                return 0;
        q = pread_all(rd->state, &rec, sizeof(rec), &rd->offset);
        if (q < 0)
                return q;
        if (rec.flags & ~(uint32_t) FLAGS_ALL)
                return -EBADMSG;
        if (rec.pending[0] > HANDOVER_MAX_PENDING || rec.pending[1] > HANDOVER_MAX_PENDING)
                return -E2BIG;
        /* cut short: said before allocating what is not there */
        if (rec.pending[0] + rec.pending[1] > (uint64_t) (rd->size - rd->offset))
                return -EBADMSG;
        st.connecting = rec.flags & FLAG_CONNECTING;
        st.eof[RELAY_SIDE_CLIENT] = rec.flags & FLAG_EOF_CLIENT;
        st.shut[RELAY_SIDE_CLIENT] = rec.flags & FLAG_SHUT_CLIENT;
        st.eof[RELAY_SIDE_UPSTREAM] = rec.flags & FLAG_EOF_UPSTREAM;
        st.shut[RELAY_SIDE_UPSTREAM] = rec.flags & FLAG_SHUT_UPSTREAM;
        for (int s = 0; s < 2; s++) {
                if (rec.pending[s] == 0)
                        continue;
                st.pending[s] = buffer_pool_get(pool, rec.pending[s]);
                if (!st.pending[s])
                        q = -ENOMEM;
                else {
                        st.n_pending[s] = rec.pending[s];
                        q = pread_all(rd->state, st.pending[s], rec.pending[s], &rd->offset);
                }
                if (q < 0) {
                        for (int t = 0; t <= s; t++)
                                buffer_pool_put(pool, st.pending[t]);
                        return q;
                }
        }
        st.fd[RELAY_SIDE_CLIENT] = TAKE_FD(rd->fds[rd->next]);
        st.fd[RELAY_SIDE_UPSTREAM] = TAKE_FD(rd->fds[rd->next + 1]);
        rd->next += 2;
        *ret = st;
        return 1;
}
