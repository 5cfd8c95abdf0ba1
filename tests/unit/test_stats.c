/* pkg/stats and the keyed-file parser: /proc/net/dev text, memory.stat
 * lines, directory usage. */
#define _GNU_SOURCE
#include <fcntl.h>
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
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "%s/sub/f", dir);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/sub", dir);
    rmdir(cmd);
    snprintf(cmd, sizeof(cmd), "%s/link", dir);
    unlink(cmd);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netdev_parse),
        cmocka_unit_test(test_keyed_parse),
        cmocka_unit_test(test_dir_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
