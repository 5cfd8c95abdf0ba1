"""Issue 5, security context and resources: pod sysctls, devices, privileged containers,
AppArmor/SELinux options, users and groups, live resource updates. Every effect is checked
from inside the container."""
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
