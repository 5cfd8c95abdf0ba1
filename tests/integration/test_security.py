"""Issue 5, security context and resources: pod sysctls, devices, privileged containers,
AppArmor/SELinux options, users and groups, live resource updates. Every effect is checked
from inside the container."""
import glob
import os

import grpc
import pytest

from conftest import TEST_CGROUP_PARENT, api_pb2
from test_containers import create, ctr_config, pod_config, run_and_log, security, status, wait_state


def host_sysctl(name):
    with open("/proc/sys/" + name.replace(".", "/")) as f:
        return f.read().strip()


def run_pod(client, crispd, name, sysctls=None, host_net=False, uid=None):
    cfg = pod_config(crispd.dir, name=name, uid=uid or name)
    if sysctls is not None:
        cfg.linux.sysctls.update(sysctls)
    if host_net:
        cfg.linux.security_context.namespace_options.network = api_pb2.NODE
        cfg.linux.security_context.namespace_options.pid = api_pb2.CONTAINER
    return client.call("RunPodSandbox", config=cfg).pod_sandbox_id, cfg


@pytest.fixture
def busybox(registry, client):
    image = registry.images["busybox"].ref
    client.call("PullImage", image=api_pb2.ImageSpec(image=image), timeout=60)
    return image


def test_namespaced_sysctls_are_set_in_the_pod_only(client, crispd, busybox):
    host_shmmni = host_sysctl("kernel.shmmni")
    host_range = host_sysctl("net.ipv4.ip_local_port_range")
    pod = run_pod(client, crispd, "sysctl", {
        "kernel.shmmni": "1000", "net.ipv4.ip_local_port_range": "20000 30000",
        "net/ipv4/conf/lo/forwarding": "1", "fs.mqueue.msg_max": "20"})
    try:
        out = run_and_log(client, crispd, pod, busybox, "sys", [
            "cat", "/proc/sys/kernel/shmmni", "/proc/sys/net/ipv4/ip_local_port_range",
            "/proc/sys/net/ipv4/conf/lo/forwarding", "/proc/sys/fs/mqueue/msg_max"])
        assert out == [b"1000", b"20000\t30000", b"1", b"20"]
    finally:
        client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    assert host_sysctl("kernel.shmmni") == host_shmmni
    assert host_sysctl("net.ipv4.ip_local_port_range") == host_range


@pytest.mark.parametrize("sysctls,host_net,needle", [
    ({"kernel.panic": "1"}, False, "not a namespaced sysctl"),
    ({"vm.swappiness": "10"}, False, "not a namespaced sysctl"),
    ({"net.ipv4.ip_forward": "1"}, True, "host's network"),
    ({"kernel.shmmax": "1=2"}, False, "without newline"),
    ({"kernel.shmmax": "1+kernel.panic=1"}, False, "without newline"),
    ({"net..ipv4": "1"}, False, "not a sysctl name"),
    ({"net/ipv4/../../kernel/panic": "1"}, False, "not a sysctl name"),
    ({"net.ipv4.no_such_thing": "1"}, False, "no such sysctl"),
    ({"net.ipv4.ip_local_port_range": "banana"}, False, "refused the value"),
])
def test_unsafe_or_bad_sysctls_are_refused(client, crispd, sysctls, host_net, needle):
    with pytest.raises(grpc.RpcError) as e:
        run_pod(client, crispd, "bad", sysctls, host_net=host_net)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    assert next(iter(sysctls)) in e.value.details() and needle in e.value.details()
    # nothing was left behind: the name is free again
    pod = run_pod(client, crispd, "bad")
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def cgroup_file(controller, rel, name):
    with open(f"/sys/fs/cgroup/{controller}/{rel}/{name}") as f:
        return f.read().strip()


@pytest.fixture
def sleeper(client, crispd, busybox):
    """A running container in a pod with its own cgroup parent."""
    pod = run_pod(client, crispd, "upd")
    parent = f"{TEST_CGROUP_PARENT}/upd"
    pod[1].linux.cgroup_parent = parent
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    cfg = pod[1]
    pid = client.call("RunPodSandbox", config=cfg).pod_sandbox_id
    res = api_pb2.LinuxContainerResources(cpu_shares=256, memory_limit_in_bytes=64 << 20,
                                          oom_score_adj=100)
    cid = create(client, (pid, cfg), ctr_config(busybox, name="sleep", command=["sleep", "1000"],
                                                linux=api_pb2.LinuxContainerConfig(resources=res)))
    client.call("StartContainer", container_id=cid)
    yield pid, cid, f"{parent}/{cid}"
    client.call("RemovePodSandbox", pod_sandbox_id=pid, timeout=30)
    for d in glob.glob(f"/sys/fs/cgroup/*/{parent}"):  # the pod's cgroup is the kubelet's
        os.rmdir(d)


def update(client, cid, **fields):
    return client.call("UpdateContainerResources", container_id=cid,
                       linux=api_pb2.LinuxContainerResources(**fields))


def test_update_container_resources_live_and_persisted(client, crispd, sleeper):
    _, cid, rel = sleeper
    update(client, cid, cpu_shares=512, cpu_quota=50000, cpu_period=100000,
           memory_limit_in_bytes=128 << 20, cpuset_cpus="0")
    assert cgroup_file("cpu", rel, "cpu.shares") == "512"
    assert cgroup_file("cpu", rel, "cpu.cfs_quota_us") == "50000"
    assert cgroup_file("cpu", rel, "cpu.cfs_period_us") == "100000"
    assert cgroup_file("memory", rel, "memory.limit_in_bytes") == str(128 << 20)
    assert cgroup_file("cpuset", rel, "cpuset.cpus") == "0"
    # an update naming only memory keeps the cpu settings (cgroup and status alike)
    update(client, cid, memory_limit_in_bytes=96 << 20)
    assert cgroup_file("cpu", rel, "cpu.shares") == "512"
    st = status(client, cid).resources.linux
    assert (st.cpu_shares, st.cpu_quota, st.memory_limit_in_bytes) == (512, 50000, 96 << 20)
    assert st.cpuset_cpus == "0" and st.oom_score_adj == 100
    # the limit is live for what runs in the container: 40 MB held by a shell fit under 96 MiB,
    # not under 32 MiB
    hold = ["sh", "-c", "x=$(head -c 40000000 /dev/zero | tr '\\0' a); echo ${#x}"]
    r = client.call("ExecSync", container_id=cid, cmd=hold, timeout=60)
    assert (r.exit_code, r.stdout) == (0, b"40000000\n")
    update(client, cid, memory_limit_in_bytes=32 << 20)
    r = client.call("ExecSync", container_id=cid, cmd=hold, timeout=60)
    assert r.exit_code != 0 and r.stdout != b"40000000\n"
    update(client, cid, memory_limit_in_bytes=96 << 20)
    # persisted: a restarted crispd reports the same
    crispd.stop()
    c2 = crispd.start().client()
    st = c2.call("ContainerStatus", container_id=cid).status.resources.linux
    assert (st.cpu_shares, st.memory_limit_in_bytes) == (512, 96 << 20)
    c2.close()


def test_memory_limit_below_usage_is_a_clear_error(client, crispd, sleeper):
    _, cid, rel = sleeper
    r = client.call("ExecSync", container_id=cid, cmd=[
        "sh", "-c", "head -c 40m /dev/zero > /dev/shm/keep; echo ok"], timeout=60)
    assert r.stdout == b"ok\n"
    with pytest.raises(grpc.RpcError) as e:
        update(client, cid, memory_limit_in_bytes=8 << 20)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION, e.value.details()
    assert str(8 << 20) in e.value.details() and "usage" in e.value.details()
    assert cgroup_file("memory", rel, "memory.limit_in_bytes") == str(64 << 20)
    assert status(client, cid).resources.linux.memory_limit_in_bytes == 64 << 20


@pytest.mark.parametrize("fields,name", [
    ({"cpu_period": 5}, "linux.cpu_period"),
    ({"cpu_quota": 10}, "linux.cpu_quota"),
    ({"cpu_shares": 1}, "linux.cpu_shares"),
    ({"memory_limit_in_bytes": -5}, "linux.memory_limit_in_bytes"),
    ({"memory_limit_in_bytes": 64 << 20, "memory_swap_limit_in_bytes": 1 << 20},
     "linux.memory_swap_limit_in_bytes"),
    ({"cpuset_cpus": "0;rm"}, "linux.cpuset_cpus"),
    ({"hugepage_limits": [api_pb2.HugepageLimit(page_size="2XB", limit=1)]},
     "linux.hugepage_limits[0].page_size"),
    ({"unified": {"../memory.max": "1"}}, "linux.unified key"),
])
def test_bad_update_values_name_the_field(client, sleeper, fields, name):
    with pytest.raises(grpc.RpcError) as e:
        update(client, sleeper[1], **fields)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    assert name in e.value.details()


def test_update_unknown_or_exited_container(client, crispd, busybox):
    with pytest.raises(grpc.RpcError) as e:
        update(client, "nosuch", cpu_shares=512)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    pod = run_pod(client, crispd, "ex")
    try:
        run_and_log(client, crispd, pod, busybox, "done", ["true"])
        cid = client.call("ListContainers").containers[0].id
        with pytest.raises(grpc.RpcError) as e:
            update(client, cid, cpu_shares=512)
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def test_update_pod_sandbox_resources(client, crispd, sleeper):
    pid, _, rel = sleeper
    pod_rel = rel.rsplit("/", 1)[0]
    client.call("UpdatePodSandboxResources", pod_sandbox_id=pid,
                overhead=api_pb2.LinuxContainerResources(memory_limit_in_bytes=8 << 20),
                resources=api_pb2.LinuxContainerResources(memory_limit_in_bytes=256 << 20,
                                                          cpu_shares=1024))
    assert cgroup_file("memory", pod_rel, "memory.limit_in_bytes") == str(256 << 20)
    assert cgroup_file("cpu", pod_rel, "cpu.shares") == "1024"
    with pytest.raises(grpc.RpcError) as e:
        client.call("UpdatePodSandboxResources", pod_sandbox_id=pid,
                    resources=api_pb2.LinuxContainerResources(cpu_shares=1))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "resources.cpu_shares" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        client.call("UpdatePodSandboxResources", pod_sandbox_id="nosuch")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.fixture
def pod(client, crispd, busybox):
    pod = run_pod(client, crispd, "sec")
    yield pod
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def test_device_passed_in_works_and_an_undeclared_one_does_not(client, crispd, busybox, pod):
    st = os.stat("/dev/fuse")
    fuse = f"{os.major(st.st_rdev)} {os.minor(st.st_rdev)}"
    out = run_and_log(client, crispd, pod, busybox, "dev", [
        "sh", "-c",
        "ls -ln /dev/myfuse | awk '{print $1, $5, $6}'; "
        "(exec 3<>/dev/myfuse) && echo open-rw-ok; "
        f"mknod /tmp/other c {fuse} && echo mknod-ok; "
        "(exec 3</dev/loop-control) 2>/dev/null || echo undeclared-refused; "
        "mknod /tmp/loopctl c 10 237 && ((exec 3</tmp/loopctl) 2>/dev/null || echo mknod-node-refused); "
        "cat /dev/null && echo null-ok; head -c 3 /dev/zero | wc -c"],
        devices=[api_pb2.Device(container_path="/dev/myfuse", host_path="/dev/fuse",
                                permissions="rw")])
    assert out == [b"crw------- 10, 229", b"open-rw-ok", b"mknod-ok", b"undeclared-refused",
                   b"mknod-node-refused", b"null-ok", b"3"]


def test_device_permissions_are_enforced(client, crispd, busybox, pod):
    out = run_and_log(client, crispd, pod, busybox, "devro", [
        "sh", "-c", "(exec 3</dev/fuse) && echo read-ok; "
                    "(exec 3>/dev/fuse) 2>/dev/null || echo write-refused"],
        devices=[api_pb2.Device(container_path="/dev/fuse", host_path="/dev/fuse",
                                permissions="r")])
    assert out == [b"read-ok", b"write-refused"]


@pytest.mark.parametrize("device,field", [
    ({"container_path": "dev/x", "host_path": "/dev/fuse", "permissions": "rw"},
     "devices[0].container_path"),
    ({"container_path": "/dev/", "host_path": "/dev/fuse", "permissions": "rw"},
     "devices[0].container_path"),
    ({"container_path": "/dev/..", "host_path": "/dev/fuse", "permissions": "rw"},
     "devices[0].container_path"),
    ({"container_path": "/dev/x", "host_path": "/etc/passwd", "permissions": "rw"},
     "devices[0].host_path"),
    ({"container_path": "/dev/x", "host_path": "/dev/nosuch", "permissions": "rw"},
     "devices[0].host_path"),
    ({"container_path": "/dev/x", "host_path": "/dev/fuse", "permissions": "rwx"},
     "devices[0].permissions"),
    ({"container_path": "/dev/x", "host_path": "/dev/fuse", "permissions": "rr"},
     "devices[0].permissions"),
])
def test_bad_devices_name_the_field(client, busybox, pod, device, field):
    with pytest.raises(grpc.RpcError) as e:
        create(client, pod, ctr_config(busybox, name="baddev", command=["true"],
                                       devices=[api_pb2.Device(**device)]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    assert field in e.value.details()


def test_privileged_sees_host_devices_writable_sys_and_can_mount(client, crispd, busybox, pod):
    script = ("ls /dev/loop0 /dev/fuse; (exec 3</dev/loop-control) && echo loopctl-ok; "
              "grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; "
              "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && grep -c /mnt/t /proc/mounts; "
              "grep -c ' /proc/kcore ' /proc/mounts")
    out = run_and_log(client, crispd, pod, busybox, "priv", ["sh", "-c", script],
                      linux=security(privileged=True, masked_paths=["/proc/kcore"]))
    assert out == [b"/dev/fuse", b"/dev/loop0", b"loopctl-ok", b"rw", b"1", b"0"]
    out = run_and_log(client, crispd, pod, busybox, "unpriv", ["sh", "-c", script + "; true"])
    assert b"loopctl-ok" not in out and b"rw" not in out
    assert b"ro" in out


def ids_in(out):
    lines = {l.split(b":")[0]: l.split(b":\t")[1].split() for l in out}
    return (int(lines[b"Uid"][0]), int(lines[b"Gid"][0]),
            sorted(int(g) for g in lines.get(b"Groups", [])))


IDS = ["grep", "-e", "^Uid", "-e", "^Gid", "-e", "^Groups", "/proc/self/status"]


def test_run_as_uid_gid_and_supplemental_groups(client, crispd, busybox, pod):
    sc = security(run_as_user=api_pb2.Int64Value(value=1234),
                  run_as_group=api_pb2.Int64Value(value=5678), supplemental_groups=[42, 43])
    out = run_and_log(client, crispd, pod, busybox, "ids", IDS, linux=sc)
    assert ids_in(out) == (1234, 5678, [42, 43, 5678])
    cid = client.call("ListContainers").containers[0].id
    u = status(client, cid).user.linux
    assert (u.uid, u.gid, list(u.supplemental_groups)) == (1234, 5678, [5678, 42, 43])


@pytest.mark.parametrize("policy,groups", [
    (api_pb2.Merge, [1000, 2000, 42]),  # the image's /etc/group names app in "extra" (2000)
    (api_pb2.Strict, [1000, 42]),
])
def test_run_as_username_with_image_groups_merge_or_strict(registry, client, crispd, pod, policy,
                                                           groups):
    image = registry.images["username"].ref
    client.call("PullImage", image=api_pb2.ImageSpec(image=image), timeout=60)
    sc = security(run_as_username="app", supplemental_groups=[42],
                  supplemental_groups_policy=policy)
    out = run_and_log(client, crispd, pod, image, f"un{policy}", IDS, linux=sc)
    assert ids_in(out) == (1000, 1000, sorted(groups))


def test_run_as_group_without_a_user_is_refused(client, busybox, pod):
    with pytest.raises(grpc.RpcError) as e:
        create(client, pod, ctr_config(busybox, name="g", command=["true"], linux=security(
            run_as_group=api_pb2.Int64Value(value=5))))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "run_as_group" in e.value.details()


def apparmor(kind, ref=""):
    return api_pb2.SecurityProfile(profile_type=kind, localhost_ref=ref)


@pytest.mark.skipif(os.path.exists("/sys/module/apparmor/parameters/enabled"),
                    reason="checks a node without AppArmor")
def test_apparmor_and_selinux_on_a_node_without_them(client, crispd, busybox, pod):
    for i, sc in enumerate([
            security(apparmor=apparmor(api_pb2.SecurityProfile.RuntimeDefault)),
            security(apparmor=apparmor(api_pb2.SecurityProfile.Unconfined)),
            security(apparmor_profile="runtime/default"),
            security(selinux_options=api_pb2.SELinuxOption(type="container_t", level="s0:c1,c2"))]):
        assert run_and_log(client, crispd, pod, busybox, f"lsm{i}", ["echo", "ran"],
                           linux=sc) == [b"ran"]
    for sc, code, needle in [
            (security(apparmor=apparmor(api_pb2.SecurityProfile.Localhost, "my-profile")),
             grpc.StatusCode.FAILED_PRECONDITION, "AppArmor is not enabled"),
            (security(apparmor_profile="localhost/my-profile"),
             grpc.StatusCode.FAILED_PRECONDITION, "AppArmor is not enabled"),
            (security(apparmor_profile="my-profile"), grpc.StatusCode.INVALID_ARGUMENT,
             "security_context.apparmor_profile")]:
        with pytest.raises(grpc.RpcError) as e:
            create(client, pod, ctr_config(busybox, name="aa", command=["true"], linux=sc))
        assert e.value.code() == code and needle in e.value.details(), e.value.details()
