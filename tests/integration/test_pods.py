"""Pod sandboxes: RunPodSandbox and friends, namespaces, pod files, restarts."""
import json
import os
import subprocess

import grpc
import pytest

from conftest import api_pb2


def pod_config(name="web", uid="uid-1", attempt=0, **kw):
    kw.setdefault("hostname", name)
    return api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name=name, namespace="default", uid=uid,
                                            attempt=attempt), **kw)


def run(client, config=None, **kw):
    return client.call("RunPodSandbox", config=config or pod_config(**kw)).pod_sandbox_id


def pod_status(client, pod_id, verbose=False):
    return client.call("PodSandboxStatus", pod_sandbox_id=pod_id, verbose=verbose)


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


def in_netns(pod_dir, *cmd):
    return subprocess.run(["nsenter", f"--net={pod_dir}/ns/net", *cmd], capture_output=True,
                          text=True, check=True).stdout


def test_run_status_list_stop_remove(client, crispd):
    labels = {"app": "web", "tier": "front"}
    pid = run(client, pod_config(labels=labels, annotations={"note": "x"}))
    assert len(pid) == 64
    st = pod_status(client, pid).status
    assert st.id == pid and st.state == api_pb2.SANDBOX_READY
    assert st.metadata.name == "web" and st.metadata.uid == "uid-1"
    assert dict(st.labels) == labels and dict(st.annotations) == {"note": "x"}
    assert st.linux.namespaces.options.network == api_pb2.POD
    assert st.created_at > 0
    items = client.call("ListPodSandbox").items
    assert [i.id for i in items] == [pid]
    client.call("StopPodSandbox", pod_sandbox_id=pid)
    client.call("StopPodSandbox", pod_sandbox_id=pid)  # idempotent
    assert pod_status(client, pid).status.state == api_pb2.SANDBOX_NOTREADY
    client.call("RemovePodSandbox", pod_sandbox_id=pid)
    client.call("RemovePodSandbox", pod_sandbox_id=pid)  # idempotent
    with pytest.raises(grpc.RpcError) as e:
        pod_status(client, pid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert len(client.call("ListPodSandbox").items) == 0
    assert mounts_under(crispd.state) == []


def test_pod_has_its_own_network_uts_and_ipc_namespaces(client, crispd):
    pid = run(client, name="ns", hostname="my-pod-host")
    pod_dir = crispd.state / "pods" / pid
    links = in_netns(pod_dir, "ip", "-o", "link")
    assert len(links.splitlines()) == 1 and "lo:" in links and "UP" in links  # only lo, up
    host = subprocess.run(["nsenter", f"--uts={pod_dir}/ns/uts", "hostname"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert host == "my-pod-host"
    assert os.stat(pod_dir / "ns" / "net").st_ino != os.stat("/proc/self/ns/net").st_ino
    assert (pod_dir / "hostname").read_text() == "my-pod-host\n"
    shm = [line.split() for line in open("/proc/self/mounts") if f"{pod_dir}/shm" in line]
    assert shm and shm[0][2] == "tmpfs" and "size=65536k" in shm[0][3]
    assert "127.0.1.1\tmy-pod-host" in (pod_dir / "hosts").read_text()
    client.call("RemovePodSandbox", pod_sandbox_id=pid)
    assert mounts_under(crispd.state) == []
    assert not pod_dir.exists()


def test_crispd_threads_stay_in_the_hosts_namespaces(client, crispd):
    """The pod namespaces are made by a short-lived thread of crispd: none of crispd's threads
    may be left in them (a worker in a pod's netns would run the next pod's CNI there)."""
    pods = [run(client, name=f"t{i}", uid=f"u{i}", hostname=f"h{i}") for i in range(4)]
    pod_ns = {os.stat(crispd.state / "pods" / p / "ns" / t).st_ino
              for p in pods for t in ("net", "ipc", "uts")}
    assert len(pod_ns) == 12
    host = {t: os.stat(f"/proc/self/ns/{t}").st_ino for t in ("net", "ipc", "uts")}
    tasks = os.listdir(f"/proc/{crispd.proc.pid}/task")
    for tid in tasks:
        for t in ("net", "ipc", "uts"):
            ino = os.stat(f"/proc/{crispd.proc.pid}/task/{tid}/ns/{t}").st_ino
            assert ino == host[t], f"crispd thread {tid} is in {t} namespace {ino}"
    for p in pods:
        client.call("RemovePodSandbox", pod_sandbox_id=p)
    assert mounts_under(crispd.state) == []


def test_dns_config_becomes_resolv_conf(client, crispd):
    dns = api_pb2.DNSConfig(servers=["10.96.0.10", "fd00::10"],
                            searches=["default.svc.cluster.local", "svc.cluster.local"],
                            options=["ndots:5", "edns0"])
    pid = run(client, pod_config(dns_config=dns))
    text = (crispd.state / "pods" / pid / "resolv.conf").read_text()
    assert text == ("nameserver 10.96.0.10\nnameserver fd00::10\n"
                    "search default.svc.cluster.local svc.cluster.local\n"
                    "options ndots:5 edns0\n")


def test_no_dns_config_uses_the_hosts_resolv_conf(client, crispd):
    pid = run(client)
    assert (crispd.state / "pods" / pid / "resolv.conf").read_text() == \
        open("/etc/resolv.conf").read()


def test_host_network_pod_has_no_own_netns(client, crispd):
    sc = api_pb2.LinuxSandboxSecurityContext(
        namespace_options=api_pb2.NamespaceOption(network=api_pb2.NODE, ipc=api_pb2.NODE,
                                                  pid=api_pb2.CONTAINER))
    pid = run(client, pod_config(linux=api_pb2.LinuxPodSandboxConfig(security_context=sc)))
    assert not (crispd.state / "pods" / pid / "ns" / "net").exists()
    assert pod_status(client, pid).status.linux.namespaces.options.network == api_pb2.NODE
    assert (crispd.state / "pods" / pid / "hosts").read_text() == open("/etc/hosts").read()


def test_concurrent_runs_and_removes_do_not_wait_for_each_other(client, crispd):
    # Each pod's namespace helper waits for crispd to close a pipe; helpers forked at the
    # same moment by other workers must not hold each other's pipe ends (they did: all hung).
    from concurrent.futures import ThreadPoolExecutor

    def cycle(i):
        pid = run(client, name=f"par{i}", uid=f"par{i}")
        client.call("RemovePodSandbox", pod_sandbox_id=pid, timeout=30)
        return pid

    with ThreadPoolExecutor(max_workers=8) as pool:
        pods = list(pool.map(cycle, range(32)))
    assert len(set(pods)) == 32
    assert not client.call("ListPodSandbox").items
    assert not mounts_under(crispd.state)


def test_name_is_unique_per_attempt_and_freed_by_remove(client):
    pid = run(client)
    with pytest.raises(grpc.RpcError) as e:
        run(client)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert pid in e.value.details()
    other = run(client, attempt=1)  # a new attempt is a new name
    client.call("RemovePodSandbox", pod_sandbox_id=pid)
    assert run(client) not in (pid, other)


@pytest.mark.parametrize("config,field", [
    (api_pb2.PodSandboxConfig(), "metadata"),
    (pod_config(hostname="bad_host!"), "hostname"),
    (pod_config(dns_config=api_pb2.DNSConfig(servers=["not-an-ip"])), "servers"),
    (pod_config(dns_config=api_pb2.DNSConfig(searches=["a\nnameserver 6.6.6.6"])), "searches"),
    (pod_config(dns_config=api_pb2.DNSConfig(options=["ndots:5 x"])), "options"),
])
def test_bad_config_is_invalid_argument_and_leaves_nothing(client, crispd, config, field):
    with pytest.raises(grpc.RpcError) as e:
        run(client, config)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in e.value.details()
    assert os.listdir(crispd.state / "pods") == []
    assert mounts_under(crispd.state) == []


def test_unknown_runtime_handler_is_refused(client):
    with pytest.raises(grpc.RpcError) as e:
        client.call("RunPodSandbox", config=pod_config(), runtime_handler="kata")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "kata" in e.value.details()


def test_pod_pid_namespace_modes(client, crispd):
    """POD is reported back (test_pid_ns.py covers what it does); TARGET names
    a container, so it is refused for a pod."""
    def linux(pid):
        sc = api_pb2.LinuxSandboxSecurityContext(
            namespace_options=api_pb2.NamespaceOption(pid=pid))
        return api_pb2.LinuxPodSandboxConfig(security_context=sc)
    with pytest.raises(grpc.RpcError) as e:
        run(client, pod_config(linux=linux(api_pb2.TARGET)))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "TARGET" in e.value.details()
    assert os.listdir(crispd.state / "pods") == []
    pid = run(client, pod_config(linux=linux(api_pb2.POD)))
    st = pod_status(client, pid).status
    assert st.linux.namespaces.options.pid == api_pb2.POD
    client.call("RemovePodSandbox", pod_sandbox_id=pid, timeout=30)
    assert os.listdir(crispd.state / "pods") == []


def test_list_filters(client):
    a = run(client, name="a", uid="ua", labels={"app": "x", "env": "prod"})
    b = run(client, name="b", uid="ub", labels={"app": "x"})
    client.call("StopPodSandbox", pod_sandbox_id=b)

    def ids(**kw):
        return sorted(i.id for i in client.call(
            "ListPodSandbox", filter=api_pb2.PodSandboxFilter(**kw)).items)
    assert ids() == sorted([a, b])
    assert ids(id=a[:12]) == [a]
    assert ids(state=api_pb2.PodSandboxStateValue(state=api_pb2.SANDBOX_READY)) == [a]
    assert ids(label_selector={"app": "x"}) == sorted([a, b])
    assert ids(label_selector={"app": "x", "env": "prod"}) == [a]
    assert ids(label_selector={"app": "y"}) == []
    streamed = client.call("StreamPodSandboxes")
    assert sorted(p.id for c in streamed for p in c.pod_sandboxes) == sorted([a, b])


def test_status_by_id_prefix_and_verbose(client, crispd):
    pid = run(client, pod_config(log_directory="/var/log/pods/x",
                                 linux=api_pb2.LinuxPodSandboxConfig(cgroup_parent="/kubepods/p1")))
    st = pod_status(client, pid[:10], verbose=True)
    assert st.status.id == pid
    info = json.loads(st.info["info"])
    assert info["cgroupParent"] == "/kubepods/p1"
    assert info["logDirectory"] == "/var/log/pods/x"


def test_missing_id_is_invalid_argument(client):
    for method in ("StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus"):
        with pytest.raises(grpc.RpcError) as e:
            client.call(method, pod_sandbox_id="")
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method


def test_pods_survive_a_crispd_restart(crispd_factory):
    d = crispd_factory().start()
    c = d.client()
    ready = run(c, name="r", uid="ur")
    stopped = run(c, name="s", uid="us")
    c.call("StopPodSandbox", pod_sandbox_id=stopped)
    c.close()
    d.proc.kill()  # no chance to clean up
    d.proc.wait()
    d._stderr.close()
    d.start()
    c = d.client()
    assert pod_status(c, ready).status.state == api_pb2.SANDBOX_READY
    assert pod_status(c, stopped).status.state == api_pb2.SANDBOX_NOTREADY
    in_netns(d.state / "pods" / ready, "true")  # the pinned netns is still there
    for p in (ready, stopped):
        c.call("RemovePodSandbox", pod_sandbox_id=p)
    assert mounts_under(d.state) == []
    c.close()


def test_a_pod_whose_namespaces_vanished_is_not_ready_after_restart(crispd_factory):
    d = crispd_factory().start()
    c = d.client()
    pid = run(c)
    c.close()
    assert d.stop() == 0
    subprocess.run(["umount", str(d.state / "pods" / pid / "ns" / "net")], check=True)
    d.start()
    c = d.client()
    assert pod_status(c, pid).status.state == api_pb2.SANDBOX_NOTREADY
    c.call("RemovePodSandbox", pod_sandbox_id=pid)
    assert mounts_under(d.state) == []
    c.close()
