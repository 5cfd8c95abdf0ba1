/* pkg/stats and the keyed-file parser: /proc/net/dev text, memory.stat
 * lines, directory usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/cgroup.h"
#include "stats/stats.h"

static const char netdev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:    6168      60    0    0    0     0          0         0     6168      60    0    "
    "0    0     0       0          0\n"
    "  eth0: 123456789 1000 3 0 0 0 0 0 987654 900 5 0 0 0 0 0\n"
    "broken: 1 2 3\n"
    "  veth-with-a-name-far-too-long-for-an-interface: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";

static void test_netdev_parse(void **state)
{
    (void)state;
    struct crisp_netdev *d;
    size_t n;
    crisp_stats_parse_netdev(netdev, &d, &n);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].name, "lo");
    assert_int_equal(d[0].rx_bytes, 6168);
    assert_int_equal(d[0].tx_bytes, 6168);
    assert_string_equal(d[1].name, "eth0");
    assert_int_equal(d[1].rx_bytes, 123456789);
    assert_int_equal(d[1].rx_errors, 3);
    assert_int_equal(d[1].tx_bytes, 987654);
    assert_int_equal(d[1].tx_errors, 5);
    free(d);
    crisp_stats_parse_netdev("", &d, &n);
    assert_int_equal(n, 0);
    assert_null(d);
}

static void test_keyed_parse(void **state)
{
    (void)state;
    static const char *const keys[] = {"anon", "inactive_file", "pgfault", "missing"};
    uint64_t vals[4] = {0};
    unsigned found = crisp_cgroup_parse_keyed("anon_thp 5\nanon 10\nfile 3\ninactive_file x\n"
                                              "pgfault 18446744073709551615\ninactive_file 7",
                                              keys, 4, vals);
    assert_int_equal(found, 0x7); /* a malformed line is skipped, a later good one counts */
    assert_int_equal(vals[0], 10);
    assert_int_equal(vals[1], 7);
    assert_true(vals[2] == UINT64_MAX);
    assert_int_equal(vals[3], 0);
    assert_int_equal(crisp_cgroup_parse_keyed("", keys, 4, vals), 0);
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void write_file(const char *path, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    for (size_t done = 0; done < size; done += sizeof(buf))
        assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

static void test_dir_usage(void **state)
{
    (void)state;
    char dir[] = "/tmp/crisp-stats-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/sub/f", dir);
    write_file(path, 1 << 20);
    snprintf(path, sizeof(path), "%s/link", dir);
    assert_int_equal(symlink("/usr", path), 0); /* not followed */
    uint64_t bytes, inodes;
    struct crisp_err err;
    assert_int_equal(crisp_stats_dir_usage(dir, &bytes, &inodes, &err), 0);
    assert_int_equal(inodes, 4); /* dir, sub, sub/f, link */
    assert_true(bytes >= (1 << 20) && bytes < (1 << 20) + 64 * 1024);
    snprintf(path, sizeof(path), "%s/none", dir);
    assert_int_equal(crisp_stats_dir_usage(path, &bytes, &inodes, &err), 0);
    assert_int_equal(bytes + inodes, 0);
    assert_int_equal(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* A container's usage read through pkg/stats from a fake cgroup v2 tree. */
static void test_container_usage_v2(void **state)
{
    (void)state;
    char root_dir[] = "/tmp/crisp-stats-v2-XXXXXX";
    assert_non_null(mkdtemp(root_dir));
    put(root_dir, "cgroup.controllers", "cpu memory pids\n");
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/pods", root_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(dir, sizeof(dir), "%s/pods/c1", root_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    put(dir, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
    put(dir, "memory.current", "50000000\n");
    put(dir, "memory.max", "100000000\n");
    put(dir, "memory.stat", "anon 30000000\ninactive_file 10000000\npgfault 100\npgmajfault 2\n");
    put(dir, "memory.swap.current", "0\n");
    put(dir, "memory.swap.max", "max\n");
    put(dir, "pids.current", "4\n");

    struct crisp_cgroup_root root;
    struct crisp_err err;
    assert_int_equal(crisp_cgroup_root_fake(&root, CRISP_CGROUP_V2, root_dir, NULL, &err), 0);
    struct crisp_stats s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    s.cgroups = &root;
    struct crisp_ctr c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "c1");
    c.cgroup = "pods/c1";
    c.rw_dir = root_dir;
    struct crisp_ctr_usage u;
    assert_int_equal(crisp_stats_container(&s, &c, &u, &err), 0);
    assert_true(u.cg.has_cpu && u.cg.has_memory && u.cg.has_pids && u.cg.has_swap);
    assert_int_equal(u.cg.cpu_usage_ns, 1500000000ULL);
    assert_int_equal(u.cg.memory_working_set, 40000000);
    assert_int_equal(u.cg.memory_rss, 30000000);
    assert_int_equal(u.cg.memory_limit, 100000000);
    assert_int_equal(u.cg.pids_current, 4);
    assert_false(u.has_nano_cores); /* no sampler reading yet */
    assert_false(u.has_fs);
    assert_true(u.timestamp > 0);

    c.cgroup = ""; /* created without cgroups */
    snprintf(c.id, sizeof(c.id), "c2");
    assert_int_equal(crisp_stats_container(&s, &c, &u, &err), -ENOENT);
    assert_int_equal(err.code, GRPC_STATUS_NOT_FOUND);
    c.cgroup = "pods/gone";
    snprintf(c.id, sizeof(c.id), "c3");
    assert_true(crisp_stats_container(&s, &c, &u, &err) < 0);

    crisp_stats_stop(&s);
    crisp_cgroup_root_release(&root);
    assert_int_equal(nftw(root_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netdev_parse),
        cmocka_unit_test(test_keyed_parse),
        cmocka_unit_test(test_dir_usage),
        cmocka_unit_test(test_container_usage_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
