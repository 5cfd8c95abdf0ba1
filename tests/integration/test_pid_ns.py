"""A pod-wide PID namespace (pid POD, shareProcessNamespace) held by the pod's
infra process, and containers joining another container's (pid TARGET)."""
import json
import os
import signal
import time

import grpc
import pytest

from conftest import TEST_CGROUP_PARENT, api_pb2
from test_containers import create, ctr_config, status, wait_state


def ns_linux(pid):
    return api_pb2.LinuxPodSandboxConfig(
        cgroup_parent=TEST_CGROUP_PARENT,
        security_context=api_pb2.LinuxSandboxSecurityContext(
            namespace_options=api_pb2.NamespaceOption(pid=pid)))


def pod_cfg(tmp, name, pid_mode):
    return api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name=name, namespace="default", uid=name),
        hostname=name, log_directory=str(tmp), linux=ns_linux(pid_mode))


_made = []  # (crispd, pod id): removed after each test, whatever its outcome


@pytest.fixture(autouse=True)
def remove_pods(crispd_factory):
    """Runs before crispd_factory's teardown stops crispd: a failed test must
    not leave an infra process (and its pod's processes) behind."""
    yield
    while _made:
        d, pod_id = _made.pop()
        if d.proc is not None and d.proc.poll() is None:
            c = d.client()
            try:
                c.call("RemovePodSandbox", pod_sandbox_id=pod_id, timeout=30)
            finally:
                c.close()


def run_pod(client, crispd, name="shared", pid_mode=api_pb2.POD):
    cfg = pod_cfg(crispd.dir, name, pid_mode)
    pod_id = client.call("RunPodSandbox", config=cfg, timeout=30).pod_sandbox_id
    _made.append((crispd, pod_id))
    return pod_id, cfg


def ctr(image, name, command, pid_mode=None, target_id=""):
    kw = {}
    if pid_mode is not None:
        sc = api_pb2.LinuxContainerSecurityContext(
            namespace_options=api_pb2.NamespaceOption(pid=pid_mode, target_id=target_id))
        kw["linux"] = api_pb2.LinuxContainerConfig(security_context=sc)
    return ctr_config(image, name=name, command=command, **kw)


def infra_pid(crispd, pod_id):
    with open(crispd.state / "pods" / pod_id / "state.json") as f:
        return json.load(f)["infra_pid"]


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def ps(client, cid, with_state=False):
    """pid -> args (or (state, args)) of every process the container sees, from its /proc."""
    r = client.call("ExecSync", container_id=cid, timeout=30,
                    cmd=["sh", "-c", "for d in /proc/[0-9]*; do s=$(cat $d/stat) && "
                         "s=${s##*) } && s=${s%% *} && echo \"${d#/proc/} ${s##*) } $(tr '\\0' ' ' < $d/cmdline)\"; done"])
    assert r.exit_code == 0, r.stderr
    out = {}
    for line in r.stdout.decode().splitlines():
        pid, state, args = (line.split(" ", 2) + [""])[:3]
        out[int(pid)] = (state, args.strip()) if with_state else args.strip()
    return out


def start(client, pod, image, name, command, **kw):
    cid = create(client, pod, ctr(image, name, command, **kw))
    client.call("StartContainer", container_id=cid)
    return cid


@pytest.fixture
def image(registry, client):
    ref = registry.images["busybox"].ref
    client.call("PullImage", image=api_pb2.ImageSpec(image=ref), timeout=60)
    return ref


def test_containers_of_a_pod_share_one_pid_namespace(client, crispd, image):
    pod = run_pod(client, crispd)
    infra = infra_pid(crispd, pod[0])
    assert alive(infra)
    with open(f"/proc/{infra}/cmdline") as f:
        assert f.read().split("\0")[:2] == ["crisp-monitor", "--pod-init"]
    # The infra is in the pod's cgroup, <cgroup_parent>/<pod id>.
    with open(f"/proc/{infra}/cgroup") as f:
        assert any(line.rstrip().endswith(f"/{TEST_CGROUP_PARENT}/{pod[0]}") for line in f)
    a = start(client, pod, image, "a", ["sleep", "1001"], pid_mode=api_pb2.POD)
    # Without container namespace options a container follows the pod.
    b = start(client, pod, image, "b", ["sleep", "1002"])
    seen_a, seen_b = ps(client, a), ps(client, b)
    assert seen_a[1].startswith("crisp-monitor --pod-init")
    for seen in (seen_a, seen_b):
        assert "sleep 1001" in seen.values() and "sleep 1002" in seen.values()
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def test_infra_reaps_orphans(client, crispd, image):
    pod = run_pod(client, crispd, "orphans")
    cid = start(client, pod, image, "o", ["sleep", "1000"], pid_mode=api_pb2.POD)
    # The shell exits at once; its background child is reparented to the infra.
    client.call("ExecSync", container_id=cid, cmd=["sh", "-c", "sleep 0.2 &"], timeout=30)
    time.sleep(1)
    seen = ps(client, cid, with_state=True)
    assert seen[1] == ("S", "crisp-monitor --pod-init")
    status = client.call("ExecSync", container_id=cid, timeout=30,
                         cmd=["grep", "-E", "^(CapEff|CapBnd|NoNewPrivs)", "/proc/1/status"])
    # The infra keeps no privilege.
    assert status.stdout.split() == [b"CapEff:", b"0000000000000000", b"CapBnd:",
                                     b"0000000000000000", b"NoNewPrivs:", b"1"]
    assert [p for p, (state, _) in seen.items() if state == "Z"] == []
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def test_target_joins_the_target_containers_namespace(client, crispd, image):
    pod = run_pod(client, crispd, "target", pid_mode=api_pb2.CONTAINER)
    assert "infra_pid" not in json.loads(
        (crispd.state / "pods" / pod[0] / "state.json").read_text())
    t = start(client, pod, image, "t", ["sleep", "1003"], pid_mode=api_pb2.CONTAINER)
    d = start(client, pod, image, "debug", ["sleep", "1004"], pid_mode=api_pb2.TARGET,
              target_id=t)
    seen = ps(client, d)
    assert seen[1] == "sleep 1003"
    assert "sleep 1004" in seen.values()
    assert "sleep 1004" in ps(client, t).values()
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def test_bad_pid_namespace_requests(client, crispd, image):
    own = run_pod(client, crispd, "own", pid_mode=api_pb2.CONTAINER)
    other = run_pod(client, crispd, "other", pid_mode=api_pb2.CONTAINER)
    created = create(client, own, ctr(image, "created", ["sleep", "1000"]))
    elsewhere = start(client, other, image, "elsewhere", ["sleep", "1000"])

    def refused(pod, code, words, **kw):
        with pytest.raises(grpc.RpcError) as e:
            create(client, pod, ctr(image, "x", ["true"], **kw))
        assert e.value.code() == code, e.value.details()
        for w in words:
            assert w in e.value.details()
    refused(own, grpc.StatusCode.FAILED_PRECONDITION, ["pid POD", own[0]], pid_mode=api_pb2.POD)
    refused(own, grpc.StatusCode.INVALID_ARGUMENT, ["target_id"], pid_mode=api_pb2.TARGET)
    refused(own, grpc.StatusCode.NOT_FOUND, ["nosuch"], pid_mode=api_pb2.TARGET,
            target_id="nosuch")
    refused(own, grpc.StatusCode.FAILED_PRECONDITION, ["not running"], pid_mode=api_pb2.TARGET,
            target_id=created)
    refused(own, grpc.StatusCode.INVALID_ARGUMENT, [elsewhere, other[0]],
            pid_mode=api_pb2.TARGET, target_id=elsewhere)
    # The failed creates freed the name.
    cid = create(client, own, ctr(image, "x", ["true"]))
    assert cid
    for p in (own, other):
        client.call("RemovePodSandbox", pod_sandbox_id=p[0], timeout=30)


def test_stop_and_remove_leave_no_process(client, crispd, image):
    pod = run_pod(client, crispd, "stopme")
    infra = infra_pid(crispd, pod[0])
    cids = [start(client, pod, image, f"s{i}", ["sleep", "1000"], pid_mode=api_pb2.POD)
            for i in range(2)]
    client.call("ExecSync", container_id=cids[0], cmd=["sh", "-c", "sleep 999 >/dev/null 2>&1 & exit 0"],
                timeout=30)
    client.call("StopPodSandbox", pod_sandbox_id=pod[0], timeout=30)
    assert wait_gone(infra)
    for cid in cids:
        assert status(client, cid).state == api_pb2.CONTAINER_EXITED
    assert not any("sleep 999" in open(f"/proc/{p}/cmdline").read().replace("\0", " ")
                   for p in os.listdir("/proc") if p.isdigit() and alive(p))
    st = client.call("PodSandboxStatus", pod_sandbox_id=pod[0]).status
    assert st.state == api_pb2.SANDBOX_NOTREADY
    with pytest.raises(grpc.RpcError) as e:
        create(client, pod, ctr(image, "late", ["true"], pid_mode=api_pb2.POD))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    client.call("StopPodSandbox", pod_sandbox_id=pod[0], timeout=30)  # idempotent
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    assert not (crispd.state / "pods" / pod[0]).exists()
    assert not os.path.exists(f"/sys/fs/cgroup/pids/{TEST_CGROUP_PARENT}/{pod[0]}")


def test_infra_killed_by_hand_makes_the_pod_not_ready(client, crispd, image):
    pod = run_pod(client, crispd, "fragile")
    infra = infra_pid(crispd, pod[0])
    os.kill(infra, signal.SIGKILL)
    assert wait_gone(infra)
    with pytest.raises(grpc.RpcError) as e:
        create(client, pod, ctr(image, "c", ["true"], pid_mode=api_pb2.POD))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "infra process" in e.value.details()
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def test_shared_pid_namespace_survives_a_crispd_kill(registry, crispd_factory):
    d = crispd_factory().start()
    c = d.client()
    ref = registry.images["busybox"].ref
    c.call("PullImage", image=api_pb2.ImageSpec(image=ref), timeout=60)
    pod = run_pod(c, d, "survivor")
    infra = infra_pid(d, pod[0])
    first = start(c, pod, ref, "first", ["sleep", "1005"], pid_mode=api_pb2.POD)
    c.close()
    d.proc.kill()
    d.proc.wait()
    d._stderr.close()
    assert alive(infra)
    d.start()
    c = d.client()
    st = c.call("PodSandboxStatus", pod_sandbox_id=pod[0]).status
    assert st.state == api_pb2.SANDBOX_READY
    second = start(c, pod, ref, "second", ["sleep", "1006"], pid_mode=api_pb2.POD)
    seen = ps(c, second)
    assert seen[1].startswith("crisp-monitor --pod-init") and "sleep 1005" in seen.values()
    assert status(c, first).state == api_pb2.CONTAINER_RUNNING
    c.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    assert wait_gone(infra)
    c.close()


def test_dead_infra_at_restart_marks_the_pod_not_ready(registry, crispd_factory):
    d = crispd_factory().start()
    c = d.client()
    pod = run_pod(c, d, "orphaned")
    infra = infra_pid(d, pod[0])
    c.close()
    d.proc.kill()
    d.proc.wait()
    d._stderr.close()
    os.kill(infra, signal.SIGKILL)
    assert wait_gone(infra)
    d.start()
    c = d.client()
    st = c.call("PodSandboxStatus", pod_sandbox_id=pod[0]).status
    assert st.state == api_pb2.SANDBOX_NOTREADY
    assert "PID namespace" in d.log()
    c.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    c.close()


def test_stopping_a_container_ends_its_children_in_the_shared_namespace(client, crispd, image):
    pod = run_pod(client, crispd, "children")
    a = start(client, pod, image, "a", ["sh", "-c", "sleep 1007 & sleep 1008"],
              pid_mode=api_pb2.POD)
    b = start(client, pod, image, "b", ["sleep", "1009"], pid_mode=api_pb2.POD)
    deadline = time.monotonic() + 10
    while "sleep 1007" not in ps(client, b).values():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.call("StopContainer", container_id=a, timeout=30)
    # Without the stop, sleep 1007 would live on as the infra's child.
    deadline = time.monotonic() + 10
    while "sleep 1007" in ps(client, b).values():
        assert time.monotonic() < deadline, ps(client, b)
        time.sleep(0.05)
    assert "sleep 1009" in ps(client, b).values()


def test_interrupted_creation_is_undone_at_start(registry, crispd_factory):
    """A crash after the infra started but before the pod was ready (simulated
    by putting the state back to creating): the next start kills the infra and
    removes the pod, its pins and its cgroup."""
    d = crispd_factory().start()
    c = d.client()
    pod = run_pod(c, d, "interrupted")
    infra = infra_pid(d, pod[0])
    pod_dir = d.state / "pods" / pod[0]
    cgroup = f"/sys/fs/cgroup/pids/{TEST_CGROUP_PARENT}/{pod[0]}"
    assert os.path.isdir(cgroup)
    c.close()
    d.proc.kill()
    d.proc.wait()
    d._stderr.close()
    state = json.loads((pod_dir / "state.json").read_text())
    state["state"] = "creating"
    (pod_dir / "state.json").write_text(json.dumps(state))
    d.start()
    c = d.client()
    assert wait_gone(infra)
    assert len(c.call("ListPodSandbox").items) == 0
    assert not pod_dir.exists()
    assert not os.path.exists(cgroup)
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if str(pod_dir) in line]
    c.close()
