/* The host's cgroup hierarchies: detection, fake roots for tests. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#define CG_DEFAULT_ROOT "/sys/fs/cgroup"

static const char *const v1_names[CRISP_CGROUP_N_CONTROLLERS] = {
    [CRISP_CGROUP_CPU] = "cpu",         [CRISP_CGROUP_CPUACCT] = "cpuacct",
    [CRISP_CGROUP_CPUSET] = "cpuset",   [CRISP_CGROUP_MEMORY] = "memory",
    [CRISP_CGROUP_PIDS] = "pids",       [CRISP_CGROUP_HUGETLB] = "hugetlb",
    [CRISP_CGROUP_BLKIO] = "blkio",     [CRISP_CGROUP_DEVICES] = "devices",
    [CRISP_CGROUP_FREEZER] = "freezer",
};

unsigned cg_root_v1_bits(const char *list)
{
    unsigned bits = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        for (int c = 0; c < CRISP_CGROUP_N_CONTROLLERS; c++)
            if (strlen(v1_names[c]) == len && strncmp(p, v1_names[c], len) == 0)
                bits |= CRISP_CGROUP_BIT(c);
        p += len + (p[len] == ',');
    }
    return bits;
}

unsigned cg_root_v2_bits(const char *mount, struct crisp_err *err, int *r)
{
    _cleanup_free_ char *text = NULL;
    *r = cg_read(mount, "cgroup.controllers", &text, err);
    if (*r < 0)
        return 0;
    unsigned bits = 0;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, " \n");
        int c = cg_v2_controller_parse(p, len);
        if (c >= 0)
            bits |= CRISP_CGROUP_BIT(c);
        p += len;
        p += strspn(p, " \n");
    }
    return bits;
}

void cg_root_add(struct crisp_cgroup_root *root, const char *mount, unsigned bits, bool unified)
{
    root->hier = crisp_xrealloc(root->hier, (root->n_hier + 1) * sizeof(*root->hier));
    root->hier[root->n_hier++] = (struct crisp_cgroup_hierarchy){
        .mount = crisp_xstrdup(mount),
        .controllers = bits,
        .unified = unified,
    };
}

unsigned cg_root_bits(const struct crisp_cgroup_root *root)
{
    unsigned bits = 0;
    for (size_t i = 0; i < root->n_hier; i++)
        bits |= root->hier[i].controllers;
    return bits;
}

void cg_root_add_v1(struct crisp_cgroup_root *root, const char *mount, unsigned bits)
{
    /* The first mount of a hierarchy wins (later ones are bind mounts). */
    if (bits && !(bits & cg_root_bits(root)))
        cg_root_add(root, mount, bits, false);
}

/* Hybrid: a cgroup2 mount on a v1 host counts for the controllers it carries
 * that no v1 hierarchy has. */
int cg_root_add_hybrid(struct crisp_cgroup_root *root, const char *mount, struct crisp_err *err)
{
    int r;
    unsigned bits = cg_root_v2_bits(mount, err, &r) & ~cg_root_bits(root);
    if (r < 0)
        return r;
    if (bits)
        cg_root_add(root, mount, bits, true);
    return 0;
}

static int root_init_v2(struct crisp_cgroup_root *root, const char *mount, struct crisp_err *err)
{
    int r;
    unsigned bits = cg_root_v2_bits(mount, err, &r);
    if (r < 0)
        return r;
    /* cpu.stat and cgroup.freeze are core files, there without a controller. */
    bits |= CRISP_CGROUP_BIT(CRISP_CGROUP_CPUACCT) | CRISP_CGROUP_BIT(CRISP_CGROUP_FREEZER);
    root->mode = CRISP_CGROUP_V2;
    cg_root_add(root, mount, bits, true);
    return 0;
}

static int check_found(struct crisp_cgroup_root *root, struct crisp_err *err)
{
    if (root->n_hier > 0)
        return 0;
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                        "no cgroup hierarchy with a controller crisp uses is mounted under %s",
                        root->path);
}

int crisp_cgroup_root_detect(struct crisp_cgroup_root *root, struct crisp_err *err)
{
    *root = (struct crisp_cgroup_root){.path = crisp_xstrdup(CG_DEFAULT_ROOT)};
    struct statfs sfs;
    int r;
    if (statfs(root->path, &sfs) < 0) {
        r = crisp_syserrf(err, errno, "statfs %s", root->path);
    } else if (sfs.f_type == CGROUP2_SUPER_MAGIC) {
        r = root_init_v2(root, root->path, err);
    } else {
        root->mode = CRISP_CGROUP_V1;
        r = cg_mountinfo_scan(root, "/proc/self/mountinfo", err);
    }
    if (r == 0)
        r = check_found(root, err);
    if (r < 0) {
        crisp_err_prefix(err, "detect cgroups");
        crisp_cgroup_root_release(root);
        return r;
    }
    for (size_t i = 0; i < root->n_hier; i++)
        log_debug(CG_LOG, "hierarchy %s: controllers 0x%x%s", root->hier[i].mount,
                  root->hier[i].controllers, root->hier[i].unified ? " (cgroup2)" : "");
    return 0;
}

static int fake_v1(struct crisp_cgroup_root *root, const char *dir, struct crisp_err *err)
{
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return crisp_syserrf(err, errno, "scan %s", dir);
    int r = 0;
    _cleanup_free_ char *hybrid = NULL;
    for (int i = 0; i < n; i++) {
        _cleanup_free_ char *mount = crisp_xasprintf("%s/%s", dir, ents[i]->d_name);
        if (ents[i]->d_name[0] != '.' && cg_file_exists(mount, "cgroup.controllers"))
            hybrid = crisp_steal_ptr(mount);
        else if (ents[i]->d_name[0] != '.')
            cg_root_add_v1(root, mount, cg_root_v1_bits(ents[i]->d_name));
        free(ents[i]);
    }
    free(ents);
    if (hybrid)
        r = cg_root_add_hybrid(root, hybrid, err);
    return r;
}

int crisp_cgroup_root_fake(struct crisp_cgroup_root *root, enum crisp_cgroup_mode mode,
                           const char *dir, const struct crisp_cgroup_fake_hooks *hooks,
                           struct crisp_err *err)
{
    *root = (struct crisp_cgroup_root){.mode = mode, .path = crisp_xstrdup(dir)};
    if (hooks)
        root->hooks = *hooks;
    int r = mode == CRISP_CGROUP_V2 ? root_init_v2(root, dir, err) : fake_v1(root, dir, err);
    if (r == 0)
        r = check_found(root, err);
    if (r < 0)
        crisp_cgroup_root_release(root);
    return r;
}

void crisp_cgroup_root_release(struct crisp_cgroup_root *root)
{
    for (size_t i = 0; i < root->n_hier; i++)
        free(root->hier[i].mount);
    free(root->hier);
    free(root->path);
    *root = (struct crisp_cgroup_root){0};
}

const struct crisp_cgroup_hierarchy *crisp_cgroup_root_find(const struct crisp_cgroup_root *root,
                                                            enum crisp_cgroup_controller c)
{
    for (size_t i = 0; i < root->n_hier; i++)
        if (root->hier[i].controllers & CRISP_CGROUP_BIT(c))
            return &root->hier[i];
    return NULL;
}
