/* crisp_ctr_attach (pkg/container/attach.c) against a container store and the monitor's attach
 * server (pkg/monitor/attach_server.c) listening in the container's dir, driven by hand (no
 * monitor process, no container): the request checks and their gRPC codes, the stdin
 * announcement, stdin_once on the first stdin client's disconnect, a bad record. The dir path is
 * longer than sun_path allows, as under /run/crisp/containers/<64-hex id>. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "container/attach.h"
#include "monitor/attach_server.h"
#include "support_fs.h"

struct fixture {
    char dir[64];
    struct crisp_ctr_store store;
    struct crisp_ctr_env env;
    struct crisp_attach_server server;
    int n_ctrs;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/crisp-attach-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct crisp_err err;
    if (crisp_ctr_store_init(&f->store, f->dir, f->dir, &err) < 0)
        fail_msg("store: %s", err.msg);
    f->env.ctrs = &f->store;
    crisp_attach_server_init(&f->server);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    crisp_attach_server_close(&f->server);
    crisp_ctr_store_free(&f->store);
    sup_remove_tree(f->dir);
    free(f);
    return 0;
}

/* A container in the store, in state st, with its dir; returns its id (the fixture's). */
static const char *add_ctr(struct fixture *f, bool with_stdin, bool tty, enum crisp_ctr_state st)
{
    char name[16];
    snprintf(name, sizeof(name), "c%d", ++f->n_ctrs);
    Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
    md.name = name;
    Runtime__V1__ContainerConfig cfg = RUNTIME__V1__CONTAINER_CONFIG__INIT;
    cfg.metadata = &md;
    cfg.stdin = with_stdin;
    cfg.stdin_once = with_stdin;
    cfg.tty = tty;
    char pod[CRISP_CTR_ID_LEN + 1];
    memset(pod, 'a', CRISP_CTR_ID_LEN);
    pod[CRISP_CTR_ID_LEN] = '\0';
    struct crisp_ctr *c;
    struct crisp_err err;
    if (crisp_ctr_reserve(&f->store, pod, &cfg, &c, &err) < 0)
        fail_msg("reserve: %s", err.msg);
    assert_int_equal(mkdir(c->dir, 0700), 0);
    c->state = st;
    const char *id = c->id; /* the store keeps it: c is never removed here */
    crisp_ctr_put(&f->store, c);
    return id;
}

static char *ctr_dir(struct fixture *f, const char *id)
{
    static char dir[256];
    snprintf(dir, sizeof(dir), "%s/containers/%s", f->dir, id);
    return dir;
}

static void expect_error(struct fixture *f, const char *id, bool want_stdin, bool tty,
                         grpc_status_code code, const char *says)
{
    struct crisp_err err = {0};
    int fd = -1;
    int r = crisp_ctr_attach(&f->env, id, want_stdin, tty, &fd, &err);
    assert_true(r < 0);
    assert_int_equal(fd, -1);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, says))
        fail_msg("error \"%s\" does not say \"%s\"", err.msg, says);
}

/* One round of the server's poll loop (what crisp-monitor's loop does). */
static void serve(struct fixture *f)
{
    struct pollfd fds[CRISP_ATTACH_POLLFDS];
    size_t n = crisp_attach_server_pollfds(&f->server, fds);
    assert_int_equal(n, CRISP_ATTACH_POLLFDS);
    assert_true(poll(fds, n, 2000) > 0);
    crisp_attach_server_dispatch(&f->server, fds, n);
}

static void test_request_checks(void **state)
{
    struct fixture *f = *state;
    const char *plain = add_ctr(f, false, false, CRISP_CTR_RUNNING);
    expect_error(f, plain, true, false, GRPC_STATUS_FAILED_PRECONDITION, "without stdin");
    expect_error(f, plain, false, true, GRPC_STATUS_INVALID_ARGUMENT, "tty true does not match");
    const char *tty = add_ctr(f, true, true, CRISP_CTR_RUNNING);
    expect_error(f, tty, true, false, GRPC_STATUS_INVALID_ARGUMENT, "created with tty true");
    const char *created = add_ctr(f, false, false, CRISP_CTR_CREATED);
    expect_error(f, created, false, false, GRPC_STATUS_FAILED_PRECONDITION, "is not running");
    const char *exited = add_ctr(f, false, false, CRISP_CTR_EXITED);
    expect_error(f, exited, false, false, GRPC_STATUS_FAILED_PRECONDITION, "is not running");
    expect_error(f, "0123456789abcdef", false, false, GRPC_STATUS_NOT_FOUND, "not found");
    /* running, but no monitor listening */
    expect_error(f, plain, false, false, GRPC_STATUS_UNAVAILABLE, "attach socket");
}

/* The announcement makes the client a stdin client: its disconnect ends the container's stdin
 * (stdin_once); a client without stdin leaving does not. */
static void test_attach_announces_stdin(void **state)
{
    struct fixture *f = *state;
    const char *id = add_ctr(f, true, false, CRISP_CTR_RUNNING);
    char *dir = ctr_dir(f, id);
    assert_true(strlen(dir) + strlen("/attach.sock") >= 108); /* the dir fd path is used */
    int pipefd[2];
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    f->server.stdin_fd = pipefd[1];
    f->server.stdin_once = true;
    f->server.ident = id;
    struct crisp_err err;
    if (crisp_attach_server_listen(&f->server, dir, &err) < 0)
        fail_msg("listen: %s", err.msg);

    int watcher = -1, client = -1;
    assert_int_equal(crisp_ctr_attach(&f->env, id, false, false, &watcher, &err), 0);
    assert_int_equal(crisp_ctr_attach(&f->env, id, true, false, &client, &err), 0);
    serve(f); /* accepts both */
    assert_true(f->server.clients[0].fd >= 0 && f->server.clients[1].fd >= 0);
    serve(f); /* the announcement */
    assert_false(f->server.clients[0].has_stdin);
    assert_true(f->server.clients[1].has_stdin);

    close(watcher);
    serve(f);
    assert_int_equal(f->server.clients[0].fd, -1);
    assert_true(f->server.stdin_fd >= 0);

    assert_int_equal(crisp_attach_send(client, CRISP_ATTACH_STDIN, "hi\n", 3, &err), 0);
    serve(f);
    char buf[16];
    assert_int_equal(read(pipefd[0], buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "hi\n", 3);

    close(client);
    serve(f);
    assert_int_equal(f->server.stdin_fd, -1);
    assert_int_equal(read(pipefd[0], buf, sizeof(buf)), 0); /* EOF: the write end is closed */
    close(pipefd[0]);
}

/* A record a client must not send drops that client; the record size limit holds. */
static void test_bad_records(void **state)
{
    struct fixture *f = *state;
    const char *id = add_ctr(f, false, true, CRISP_CTR_RUNNING);
    struct crisp_err err;
    if (crisp_attach_server_listen(&f->server, ctr_dir(f, id), &err) < 0)
        fail_msg("listen: %s", err.msg);
    int a = -1, b = -1;
    assert_int_equal(crisp_ctr_attach(&f->env, id, false, true, &a, &err), 0);
    assert_int_equal(crisp_ctr_attach(&f->env, id, false, true, &b, &err), 0);
    serve(f);
    assert_int_equal(crisp_attach_send(a, CRISP_ATTACH_STDOUT, "x", 1, &err), 0);
    assert_int_equal(crisp_attach_send(b, CRISP_ATTACH_RESIZE, "xyz", 3, &err), 0);
    serve(f);
    assert_int_equal(f->server.clients[0].fd, -1);
    assert_int_equal(f->server.clients[1].fd, -1);
    enum crisp_attach_kind kind;
    char buf[8];
    assert_int_equal(crisp_attach_recv(a, &kind, buf, sizeof(buf), &err), 0); /* EOF */
    static char big[CRISP_ATTACH_PAYLOAD_MAX + 1];
    assert_int_equal(crisp_attach_send(b, CRISP_ATTACH_STDIN, big, sizeof(big), &err), -EMSGSIZE);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    close(a);
    close(b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_request_checks),
        T(test_attach_announces_stdin),
        T(test_bad_records),
    };
    return cmocka_run_group_tests_name("attach", tests, NULL, NULL);
}
