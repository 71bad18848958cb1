/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The relay's restart handover format (handover-format.c): N connections with their states and
 * unwritten bytes written to a memfd and their sockets sent in flight on a socket pair, read back
 * and compared; cut or garbled input gives its named error and leaks neither fds nor buffers. */
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handover-format.h"
#include "tests.h"
#include "util.h"

#define N_CONNECTIONS 300       /* more than one message of 126 connections' sockets */
#define BUFFER_SIZE 4096

typedef struct Conn {
        RelayConnectionState st;
        ino_t ino[2];
        uint8_t *bytes[2];
} Conn;

static Conn conns[N_CONNECTIONS];

static unsigned n_open_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        if (!d)
                return 0;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static ino_t inode_of(int fd)
{
        struct stat st;

        return fstat(fd, &st) < 0 ? 0 : st.st_ino;
}

static size_t pending_size(unsigned i, int s)
{
        /* none, a few, a buffer's worth and more than a buffer (a smaller BufferSize= now) */
        static const size_t sizes[] = { 0, 1, 17, BUFFER_SIZE, BUFFER_SIZE + 1, 100 * 1000 + 3, 0 };

        return sizes[(i * 3 + (unsigned) s) % ELEMENTSOF(sizes)];
}

static void conns_make(void)
{
        for (unsigned i = 0; i < N_CONNECTIONS; i++) {
                Conn *c = &conns[i];
                int sv[2];

                *c = (Conn) {};
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        abort();
                c->st.fd[0] = sv[0];
                c->st.fd[1] = sv[1];
                c->st.connecting = i % 5 == 1;
                c->st.eof[0] = i % 3 == 1;
                c->st.shut[0] = i % 6 == 1;
                c->st.eof[1] = i % 7 == 2;
                c->st.shut[1] = i % 14 == 2;
                for (int s = 0; s < 2; s++) {
                        c->ino[s] = inode_of(sv[s]);
                        c->st.n_pending[s] = pending_size(i, s);
                        c->bytes[s] = malloc(c->st.n_pending[s] + 1);
                        for (size_t k = 0; k < c->st.n_pending[s]; k++)
                                c->bytes[s][k] = (uint8_t) ((k + i * 7 + (size_t) s) % 251);
                        c->st.pending[s] = c->bytes[s];
                }
        }
}

static void conns_free(void)
{
        for (unsigned i = 0; i < N_CONNECTIONS; i++)
                for (int s = 0; s < 2; s++) {
                        conns[i].st.fd[s] = safe_close(conns[i].st.fd[s]);
                        free(conns[i].bytes[s]);
                        conns[i].bytes[s] = NULL;
                }
}

/* Writes all of conns; -errno. */
static int write_all_conns(uint32_t announce, unsigned n, int *state, int *sockets)
{
        _cleanup_(handover_writer_freep) HandoverWriter *w = NULL;
        int q;

        q = handover_writer_new(&w, announce);
        for (unsigned i = 0; i < n && q >= 0; i++)
                q = handover_writer_add(w, &conns[i].st);
        if (q >= 0)
                q = handover_writer_finish(w, state, sockets, NULL);
        return q;
}

static void test_round_trip(void)
{
        _cleanup_(handover_reader_freep) HandoverReader *rd = NULL;
        unsigned fds_before = n_open_fds();
        int state = -EBADF, sockets = -EBADF;
        BufferPool pool;
        unsigned i;

        conns_make();
        buffer_pool_init(&pool, BUFFER_SIZE);
        ASSERT_EQ(write_all_conns(N_CONNECTIONS, N_CONNECTIONS, &state, &sockets), 0);
        /* the sockets are in flight: the originals can go */
        for (i = 0; i < N_CONNECTIONS; i++)
                for (int s = 0; s < 2; s++)
                        conns[i].st.fd[s] = safe_close(conns[i].st.fd[s]);

        ASSERT_EQ(handover_reader_new(&rd, state, sockets), 0);
        ASSERT_EQ(handover_reader_n_connections(rd), N_CONNECTIONS);
        for (i = 0;; i++) {
                RelayConnectionState st;
                int q = handover_reader_next(rd, &pool, &st);

                ASSERT(q >= 0);
                if (q == 0)
                        break;
                ASSERT(i < N_CONNECTIONS);
                ASSERT_EQ(st.connecting, conns[i].st.connecting);
                for (int s = 0; s < 2; s++) {
                        ASSERT_EQ(inode_of(st.fd[s]), conns[i].ino[s]);
                        ASSERT_EQ(st.eof[s], conns[i].st.eof[s]);
                        ASSERT_EQ(st.shut[s], conns[i].st.shut[s]);
                        ASSERT_EQ(st.n_pending[s], conns[i].st.n_pending[s]);
                        ASSERT_EQ(!!st.pending[s], st.n_pending[s] > 0);
                        ASSERT(st.n_pending[s] == 0 ||
                               memcmp(st.pending[s], conns[i].bytes[s], st.n_pending[s]) == 0);
                        safe_close(st.fd[s]);
                        buffer_pool_put(&pool, st.pending[s]);
                }
        }
        ASSERT_EQ(i, N_CONNECTIONS);
        rd = handover_reader_free(rd);
        ASSERT_EQ(pool.n_in_use, 0u);
        buffer_pool_done(&pool);
        conns_free();
        ASSERT_EQ(n_open_fds(), fds_before);
}

static void test_empty(void)
{
        _cleanup_(handover_reader_freep) HandoverReader *rd = NULL;
        int state = -EBADF, sockets = -EBADF;
        RelayConnectionState st;
        BufferPool pool;

        buffer_pool_init(&pool, BUFFER_SIZE);
        ASSERT_EQ(write_all_conns(0, 0, &state, &sockets), 0);
        ASSERT_EQ(handover_reader_new(&rd, state, sockets), 0);
        ASSERT_EQ(handover_reader_n_connections(rd), 0u);
        ASSERT_EQ(handover_reader_next(rd, &pool, &st), 0);
}

static void test_writer_count_mismatch(void)
{
        int state = -EBADF, sockets = -EBADF;

        conns_make();
        ASSERT_EQ(write_all_conns(3, 2, &state, &sockets), -EBADMSG);
        ASSERT_EQ(write_all_conns(1, 2, &state, &sockets), -EBADMSG);
        ASSERT_EQ(state, -EBADF);
        conns_free();
}

/* Writes 3 connections, lets damage() change the memfd (its size is passed), and reads back:
 * the error of handover_reader_new() or of the first failing handover_reader_next(). */
static int read_damaged(void (*damage)(int state, off_t size), unsigned *ret_read)
{
        _cleanup_(handover_reader_freep) HandoverReader *rd = NULL;
        int state = -EBADF, sockets = -EBADF, q;
        BufferPool pool;
        struct stat stt;

        *ret_read = 0;
        conns_make();
        q = write_all_conns(3, 3, &state, &sockets);
        conns_free();
        if (q < 0)
                return q;
        if (fstat(state, &stt) < 0)
                return -errno;
        damage(state, stt.st_size);
        buffer_pool_init(&pool, BUFFER_SIZE);
        q = handover_reader_new(&rd, state, sockets);
        while (q >= 0) {
                RelayConnectionState st;

                q = handover_reader_next(rd, &pool, &st);
                if (q <= 0)
                        break;
                (*ret_read)++;
                for (int s = 0; s < 2; s++) {
                        safe_close(st.fd[s]);
                        buffer_pool_put(&pool, st.pending[s]);
                }
        }
        if (pool.n_in_use != 0)
                q = -EUCLEAN;   /* a leaked buffer: no error of the format */
        buffer_pool_done(&pool);
        return q;
}

/* pending bytes: record 0 has 0 and 1, record 1 has 4096 and 4097, record 2 none */
#define HEADER_SIZE 16
#define RECORD_SIZE 24

static void cut_header(int fd, off_t size)
{
        (void) ftruncate(fd, HEADER_SIZE - 1);
}

static void cut_record(int fd, off_t size)
{
        (void) ftruncate(fd, HEADER_SIZE + RECORD_SIZE + 1 + RECORD_SIZE + 5);
}

static void cut_bytes(int fd, off_t size)
{
        (void) ftruncate(fd, HEADER_SIZE + RECORD_SIZE + 1 + RECORD_SIZE + 4096 + 100);
}

static void cut_last_record(int fd, off_t size)
{
        (void) ftruncate(fd, size - 1);
}

static void bad_magic(int fd, off_t size)
{
        (void) pwrite(fd, "X", 1, 0);
}

static void more_announced(int fd, off_t size)
{
        uint32_t n = 4;

        (void) pwrite(fd, &n, sizeof(n), 8);
}

static void huge_pending(int fd, off_t size)
{
        uint64_t n = HANDOVER_MAX_PENDING + 1;

        (void) pwrite(fd, &n, sizeof(n), HEADER_SIZE + 8);
}

static void unknown_flags(int fd, off_t size)
{
        uint32_t f = 1u << 20;

        (void) pwrite(fd, &f, sizeof(f), HEADER_SIZE + RECORD_SIZE + 1);
}

static void nothing(int fd, off_t size)
{
}

static void test_damaged(void)
{
        unsigned fds_before = n_open_fds(), n;

        ASSERT_EQ(read_damaged(nothing, &n), 0);
        ASSERT_EQ(n, 3u);
        ASSERT_EQ(read_damaged(cut_header, &n), -EBADMSG);
        ASSERT_EQ(n, 0u);
        ASSERT_EQ(read_damaged(bad_magic, &n), -EPROTO);
        ASSERT_EQ(read_damaged(more_announced, &n), -EBADMSG);
        ASSERT_EQ(n, 0u);
        ASSERT_EQ(read_damaged(huge_pending, &n), -E2BIG);
        ASSERT_EQ(n, 0u);
        ASSERT_EQ(read_damaged(unknown_flags, &n), -EBADMSG);
        ASSERT_EQ(n, 1u);
        ASSERT_EQ(read_damaged(cut_record, &n), -EBADMSG);
        ASSERT_EQ(n, 1u);
        ASSERT_EQ(read_damaged(cut_bytes, &n), -EBADMSG);
        ASSERT_EQ(n, 1u);
        ASSERT_EQ(read_damaged(cut_last_record, &n), -EBADMSG);
        ASSERT_EQ(n, 2u);
        ASSERT_EQ(n_open_fds(), fds_before);
}

static void test_missing_part(void)
{
        _cleanup_(handover_reader_freep) HandoverReader *rd = NULL;
        unsigned fds_before = n_open_fds();
        int state = -EBADF, sockets = -EBADF;

        conns_make();
        ASSERT_EQ(write_all_conns(3, 3, &state, &sockets), 0);
        conns_free();
        ASSERT_EQ(handover_reader_new(&rd, -EBADF, sockets), -ENOENT);
        ASSERT_EQ(handover_reader_new(&rd, state, -EBADF), -ENOENT);
        ASSERT_EQ(n_open_fds(), fds_before);
}

/* A writer that did not finish (its process died half-way): the reader does not wait for ever. */
static void test_unfinished_stream(void)
{
        _cleanup_(handover_reader_freep) HandoverReader *rd = NULL;
        _cleanup_(handover_writer_freep) HandoverWriter *w = NULL;
        unsigned fds_before = n_open_fds();
        int sv[2];

        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        ASSERT_EQ(write(sv[0], "S", 1), 1);      /* a message, then no EOF */
        ASSERT_EQ(handover_reader_new(&rd, -EBADF, sv[1]), -EBADMSG);
        safe_close(sv[0]);
        ASSERT_EQ(n_open_fds(), fds_before);
}

int main(void)
{
        RUN(test_round_trip);
        RUN(test_empty);
        RUN(test_writer_count_mismatch);
        RUN(test_damaged);
        RUN(test_missing_part);
        RUN(test_unfinished_stream);
        TESTS_DONE();
}
