"""How a container joins its cgroups (runtime/spawn.c, runtime/cgroup.c): v1
hierarchies through "tasks", a cgroup2 hierarchy by being born in it
(clone3 CLONE_INTO_CGROUP), neither through the slow cgroup.procs write. Either
way the container must end up in its cgroup in every hierarchy, with its cgroup
namespace rooted there."""
import os

from conftest import TEST_CGROUP_PARENT, api_pb2

V1_CONTROLLERS = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"}


def unified_has_controllers():
    """Whether crisp uses the cgroup2 hierarchy: pure v2, or hybrid with a
    controller there (crisp adds it then)."""
    for path in ("/sys/fs/cgroup/cgroup.controllers",
                 "/sys/fs/cgroup/unified/cgroup.controllers"):
        if os.path.exists(path):
            with open(path) as f:
                return bool(f.read().split())
    return False


def cgroup_lines(text):
    """(controllers, path) per line of a /proc/PID/cgroup."""
    out = []
    for line in text.splitlines():
        _, ctrls, path = line.split(":", 2)
        out.append((set(ctrls.split(",")) - {""}, path))
    return out


def checked(lines, want_path):
    """The hierarchies crisp places containers in, each checked for want_path."""
    seen = 0
    for ctrls, path in lines:
        if ctrls & V1_CONTROLLERS or (not ctrls and unified_has_controllers()):
            assert path == want_path, (ctrls, path, lines)
            seen += 1
    return seen


def test_a_container_is_in_its_cgroup_everywhere_with_its_namespace_rooted_there(
        registry, client, crispd):
    image = registry.images["busybox"].ref
    client.call("PullImage", image=api_pb2.ImageSpec(image=image), timeout=60)
    pcfg = api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name="cg", namespace="default", uid="cg"),
        hostname="cg", log_directory=str(crispd.dir),
        linux=api_pb2.LinuxPodSandboxConfig(cgroup_parent=TEST_CGROUP_PARENT))
    pod = client.call("RunPodSandbox", config=pcfg).pod_sandbox_id
    try:
        ccfg = api_pb2.ContainerConfig(
            metadata=api_pb2.ContainerMetadata(name="c"), image=api_pb2.ImageSpec(image=image),
            command=["sleep", "1000"], log_path="cg.log")
        cid = client.call("CreateContainer", pod_sandbox_id=pod, config=ccfg,
                          sandbox_config=pcfg, timeout=30).container_id
        client.call("StartContainer", container_id=cid)
        pid = int((crispd.state / "containers" / cid / "pid").read_text().split()[0])
        with open(f"/proc/{pid}/cgroup") as f:
            host_view = cgroup_lines(f.read())
        n = checked(host_view, f"/{TEST_CGROUP_PARENT}/{cid}")
        assert n >= 1
        r = client.call("ExecSync", api_pb2.ExecSyncRequest(
            container_id=cid, cmd=["cat", "/proc/1/cgroup"]), timeout=60)
        assert r.exit_code == 0, r.stderr
        assert checked(cgroup_lines(r.stdout.decode()), "/") == n
    finally:
        client.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=30)
