"""Containers: create, start, logs, exit codes, stop, remove, status and list,
limits, isolation, restarts. A real crispd, a real registry, real processes."""
import json
import os
import re
import signal
import subprocess
import socket
import threading
import time

import grpc
import pytest

from conftest import TEST_CGROUP_PARENT, api_pb2, unmount_under

LOG_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) (.*)$")


def pod_config(tmp, name="p", uid="u1"):
    return api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name=name, namespace="default", uid=uid),
        hostname=name, log_directory=str(tmp),
        linux=api_pb2.LinuxPodSandboxConfig(cgroup_parent=TEST_CGROUP_PARENT))


def ctr_config(image, name="c", command=None, args=None, **kw):
    return api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name=name), image=api_pb2.ImageSpec(image=image),
        command=command or [], args=args or [], log_path=f"{name}.log", **kw)


@pytest.fixture
def pod(registry, client, crispd):
    client.call("PullImage", image=api_pb2.ImageSpec(image=registry.images["busybox"].ref),
                timeout=60)
    cfg = pod_config(crispd.dir)
    pid = client.call("RunPodSandbox", config=cfg).pod_sandbox_id
    yield pid, cfg
    client.call("RemovePodSandbox", pod_sandbox_id=pid, timeout=30)


def create(client, pod, config):
    pid, cfg = pod
    return client.call("CreateContainer", pod_sandbox_id=pid, config=config,
                       sandbox_config=cfg, timeout=30).container_id


def status(client, cid):
    return client.call("ContainerStatus", container_id=cid).status


def wait_state(client, cid, state, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = status(client, cid)
        if st.state == state:
            return st
        time.sleep(0.05)
    raise AssertionError(f"{cid} never reached state {state}: {status(client, cid)}")


def log_lines(path):
    with open(path, "rb") as f:
        return [LOG_LINE.match(line.rstrip(b"\n")).groups() for line in f]


def test_run_to_completion_with_logs_and_exit_code(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    cid = create(client, pod, ctr_config(
        image, command=["sh", "-c", "echo hello; echo oops >&2; printf tail; exit 3"]))
    assert status(client, cid).state == api_pb2.CONTAINER_CREATED
    client.call("StartContainer", container_id=cid, timeout=30)
    st = wait_state(client, cid, api_pb2.CONTAINER_EXITED)
    assert st.exit_code == 3 and st.reason == "Error"
    assert st.started_at > 0 and st.finished_at >= st.started_at
    lines = log_lines(crispd.dir / "c.log")
    assert (b"stdout", b"F", b"hello") in lines
    assert (b"stderr", b"F", b"oops") in lines
    assert (b"stdout", b"F", b"tail") in lines
    assert st.log_path == str(crispd.dir / "c.log")


def test_completed_reason_and_image_defaults(registry, client, crispd, pod):
    info = registry.images["stopsignal"]  # Entrypoint sh -c, Cmd "echo hi", WorkingDir /work
    client.call("PullImage", image=api_pb2.ImageSpec(image=info.ref), timeout=60)
    cid = create(client, pod, ctr_config(info.ref, name="d"))
    client.call("StartContainer", container_id=cid)
    st = wait_state(client, cid, api_pb2.CONTAINER_EXITED)
    assert st.exit_code == 0 and st.reason == "Completed"
    assert (b"stdout", b"F", b"hi") in log_lines(crispd.dir / "d.log")


def test_args_replace_cmd_and_env_and_workdir(registry, client, crispd, pod):
    info = registry.images["stopsignal"]
    client.call("PullImage", image=api_pb2.ImageSpec(image=info.ref), timeout=60)
    cid = create(client, pod, ctr_config(
        info.ref, name="e", args=["echo $FOO $EXTRA $(pwd) $HOSTNAME"],
        envs=[api_pb2.KeyValue(key="EXTRA", value=b"x"), api_pb2.KeyValue(key="FOO", value=b"baz")]))
    client.call("StartContainer", container_id=cid)
    wait_state(client, cid, api_pb2.CONTAINER_EXITED)
    assert (b"stdout", b"F", b"baz x /work p") in log_lines(crispd.dir / "e.log")


def test_container_sees_neither_host_mounts_nor_host_files(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    out = run_and_log(client, crispd, pod, image, "mnt", [
        "sh", "-c",
        "cut -d' ' -f2 /proc/self/mounts | grep -c -e /work -e crisp-it; ls /work 2>&1 | head -1"])
    assert out[0] == b"0"
    assert b"No such file" in out[1]


def test_isolation_pid_namespace_and_hostname(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    cid = create(client, pod, ctr_config(image, name="i", command=[
        "sh", "-c", "echo pid=$$; hostname; ls /proc | grep -c '^[0-9]'; cat /etc/resolv.conf >/dev/null && echo resolv"]))
    client.call("StartContainer", container_id=cid)
    wait_state(client, cid, api_pb2.CONTAINER_EXITED)
    out = [l[2] for l in log_lines(crispd.dir / "i.log")]
    assert out[0] == b"pid=1" and out[1] == b"p"
    assert int(out[2]) <= 3  # sh, ls, grep: no host processes
    assert out[3] == b"resolv"


def test_pod_without_hostname_takes_the_nodes_even_with_a_long_name(registry, client, crispd):
    """As containerd: no hostname in the config means the node's host name, never the pod's
    name (critest's pod names are longer than the 64 bytes a host name may have)."""
    image = registry.images["busybox"].ref
    client.call("PullImage", image=api_pb2.ImageSpec(image=image), timeout=60)
    cfg = pod_config(crispd.dir, name="PodSandbox-for-a-long-name-" + "x" * 64)
    cfg.hostname = ""
    pid = client.call("RunPodSandbox", config=cfg).pod_sandbox_id
    try:
        cid = create(client, (pid, cfg), ctr_config(image, name="h", command=["hostname"]))
        client.call("StartContainer", container_id=cid)
        wait_state(client, cid, api_pb2.CONTAINER_EXITED)
        assert [l[2] for l in log_lines(crispd.dir / "h.log")] == [socket.gethostname().encode()]
    finally:
        client.call("RemovePodSandbox", pod_sandbox_id=pid, timeout=30)


def test_stop_running_container_with_timeout(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    cid = create(client, pod, ctr_config(image, name="s", command=["sleep", "1000"]))
    client.call("StartContainer", container_id=cid)
    assert status(client, cid).state == api_pb2.CONTAINER_RUNNING
    start = time.monotonic()
    client.call("StopContainer", container_id=cid, timeout=2)
    assert time.monotonic() - start < 15
    st = status(client, cid)
    assert st.state == api_pb2.CONTAINER_EXITED and st.exit_code in (137, 143)
    client.call("StopContainer", container_id=cid, timeout=2)  # idempotent
    client.call("RemoveContainer", container_id=cid)
    client.call("RemoveContainer", container_id=cid)  # idempotent
    with pytest.raises(grpc.RpcError) as e:
        status(client, cid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_names_are_unique_per_pod_and_freed_on_remove(registry, client, pod):
    image = registry.images["busybox"].ref
    cid = create(client, pod, ctr_config(image, name="u", command=["true"]))
    with pytest.raises(grpc.RpcError) as e:
        create(client, pod, ctr_config(image, name="u", command=["true"]))
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    client.call("RemoveContainer", container_id=cid)
    create(client, pod, ctr_config(image, name="u", command=["true"]))


@pytest.mark.parametrize("change,code", [
    (dict(image=api_pb2.ImageSpec(image="127.0.0.1:1/not/pulled:1")), grpc.StatusCode.NOT_FOUND),
    (dict(metadata=api_pb2.ContainerMetadata(name="")), grpc.StatusCode.INVALID_ARGUMENT),
    (dict(working_dir="relative"), grpc.StatusCode.INVALID_ARGUMENT),
])
def test_bad_create_requests(registry, client, crispd, pod, change, code):
    cfg = ctr_config(registry.images["busybox"].ref, name="bad", command=["true"])
    for k, v in change.items():
        getattr(cfg, k).CopyFrom(v) if hasattr(v, "SerializeToString") else setattr(cfg, k, v)
    with pytest.raises(grpc.RpcError) as e:
        create(client, pod, cfg)
    assert e.value.code() == code, e.value.details()
    assert len(client.call("ListContainers").containers) == 0


def test_missing_binary_fails_start_and_reports(registry, client, pod):
    cid = create(client, pod, ctr_config(registry.images["busybox"].ref, name="m",
                                         command=["/no/such/binary"]))
    with pytest.raises(grpc.RpcError) as e:
        client.call("StartContainer", container_id=cid)
    assert "/no/such/binary" in e.value.details()
    st = status(client, cid)
    assert st.state == api_pb2.CONTAINER_EXITED and st.reason == "StartError"


def test_list_filters(registry, client, pod):
    image = registry.images["busybox"].ref
    a = create(client, pod, ctr_config(image, name="a", command=["sleep", "100"],
                                       labels={"app": "x"}))
    b = create(client, pod, ctr_config(image, name="b", command=["true"]))
    client.call("StartContainer", container_id=a)

    def ids(**kw):
        return sorted(c.id for c in client.call(
            "ListContainers", filter=api_pb2.ContainerFilter(**kw)).containers)
    assert ids() == sorted([a, b])
    assert ids(id=a[:10]) == [a]
    assert ids(pod_sandbox_id=pod[0]) == sorted([a, b])
    assert ids(state=api_pb2.ContainerStateValue(state=api_pb2.CONTAINER_RUNNING)) == [a]
    assert ids(label_selector={"app": "x"}) == [a]
    streamed = client.call("StreamContainers")
    assert sorted(c.id for chunk in streamed for c in chunk.containers) == sorted([a, b])


def test_memory_limit_oom_kill_is_reported(registry, client, crispd, pod):
    res = api_pb2.LinuxContainerResources(memory_limit_in_bytes=32 << 20)
    cid = create(client, pod, ctr_config(
        registry.images["busybox"].ref, name="oom",
        command=["sh", "-c", "x=a; while true; do x=$x$x; done"],
        linux=api_pb2.LinuxContainerConfig(resources=res)))
    client.call("StartContainer", container_id=cid)
    st = wait_state(client, cid, api_pb2.CONTAINER_EXITED, timeout=60)
    assert st.reason == "OOMKilled", st


def test_stop_pod_stops_its_containers_and_remove_removes_them(registry, client, crispd, pod):
    cid = create(client, pod, ctr_config(registry.images["busybox"].ref, name="k",
                                         command=["sleep", "1000"]))
    client.call("StartContainer", container_id=cid)
    client.call("StopPodSandbox", pod_sandbox_id=pod[0], timeout=30)
    assert status(client, cid).state == api_pb2.CONTAINER_EXITED
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    assert len(client.call("ListContainers").containers) == 0
    assert os.listdir(crispd.root / "containers") == []


def test_containers_survive_a_crispd_kill(registry, crispd_factory):
    d = crispd_factory().start()
    c = d.client()
    c.call("PullImage", image=api_pb2.ImageSpec(image=registry.images["busybox"].ref), timeout=60)
    pod = (c.call("RunPodSandbox", config=pod_config(d.dir)).pod_sandbox_id, pod_config(d.dir))
    image = registry.images["busybox"].ref
    longs = [create(c, pod, ctr_config(image, name=f"long{i}", command=["sleep", "1000"]))
             for i in range(10)]
    short = create(c, pod, ctr_config(image, name="short", command=["sh", "-c", "sleep 1; exit 7"]))
    for cid in longs + [short]:
        c.call("StartContainer", container_id=cid)
    c.close()
    d.proc.kill()
    d.proc.wait()
    d._stderr.close()
    time.sleep(1.5)  # short exits while crispd is down
    d.start()
    c = d.client()
    for cid in longs:
        assert status(c, cid).state == api_pb2.CONTAINER_RUNNING
    running = api_pb2.ContainerFilter(state=api_pb2.ContainerStateValue(
        state=api_pb2.CONTAINER_RUNNING))
    assert sorted(x.id for x in c.call("ListContainers", filter=running).containers) == \
        sorted(longs)
    st = status(c, short)
    assert st.state == api_pb2.CONTAINER_EXITED and st.exit_code == 7
    c.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    c.close()


def children_of(pid):
    """The children of every thread of a process."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out += open(f"/proc/{pid}/task/{tid}/children").read().split()
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return out


def proc_stat(pid):
    """(state, ppid, session) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[3])


def test_monitor_is_detached_from_crispd(registry, client, crispd, pod):
    """crispd starts each monitor in a session of its own and the monitor forks away from its
    first process: it is not crispd's child (it outlives crispd), not a session leader (no
    controlling terminal), and crispd keeps no zombie of it."""
    image = registry.images["busybox"].ref
    cids = [create(client, pod, ctr_config(image, name=f"d{i}", command=["sleep", "60"]))
            for i in range(3)]
    for cid in cids:
        mon = int((crispd.state / "containers" / cid / "monitor.pid").read_text())
        _, ppid, sid = proc_stat(mon)
        assert ppid != crispd.proc.pid
        assert sid != mon and sid != os.getsid(crispd.proc.pid)
        with open(f"/proc/{mon}/cmdline") as f:
            assert f.read().split("\0")[:2] == ["crisp-monitor", "--detach"]
    assert [c for c in children_of(crispd.proc.pid) if proc_stat(c)[0] == "Z"] == []
    for cid in cids:
        client.call("RemoveContainer", container_id=cid, timeout=30)


def run_and_log(client, crispd, pod, image, name, command, **kw):
    cid = create(client, pod, ctr_config(image, name=name, command=command, **kw))
    client.call("StartContainer", container_id=cid)
    wait_state(client, cid, api_pb2.CONTAINER_EXITED)
    return [l[2] for l in log_lines(crispd.dir / f"{name}.log")]


def test_oom_score_adj_is_what_the_kubelet_asks_or_0(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    res = api_pb2.LinuxContainerResources(oom_score_adj=500)
    assert run_and_log(client, crispd, pod, image, "o1", ["cat", "/proc/self/oom_score_adj"],
                       linux=api_pb2.LinuxContainerConfig(resources=res)) == [b"500"]
    assert run_and_log(client, crispd, pod, image, "o2",
                       ["cat", "/proc/self/oom_score_adj"]) == [b"0"]


def test_negative_oom_score_adj_fails_or_clamps(registry, crispd_factory):
    own = int(open("/proc/self/oom_score_adj").read())
    res = api_pb2.LinuxContainerResources(oom_score_adj=own - 100)
    for clamp in (False, True):
        d = crispd_factory(f"clamp{clamp}")
        d.config = d.dir / "crisp.json"
        d.config.write_text(json.dumps({"oom_score_adj_clamp": clamp}))
        c = d.start().client()
        c.call("PullImage", image=api_pb2.ImageSpec(image=registry.images["busybox"].ref),
               timeout=60)
        cfg = pod_config(d.dir)
        pod = (c.call("RunPodSandbox", config=cfg).pod_sandbox_id, cfg)
        ctr = ctr_config(registry.images["busybox"].ref, name="neg",
                         command=["cat", "/proc/self/oom_score_adj"],
                         linux=api_pb2.LinuxContainerConfig(resources=res))
        if clamp:
            cid = create(c, pod, ctr)
            c.call("StartContainer", container_id=cid)
            wait_state(c, cid, api_pb2.CONTAINER_EXITED)
            assert [l[2] for l in log_lines(d.dir / "neg.log")] == [str(own).encode()]
            assert "oom_score_adj_clamp" in d.log()
        else:
            with pytest.raises(grpc.RpcError) as e:
                create(c, pod, ctr)
            assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
        c.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
        c.close()


@pytest.fixture
def running(registry, client, pod):
    client.call("PullImage", image=api_pb2.ImageSpec(image=registry.images["user"].ref),
                timeout=60)
    cid = create(client, pod, ctr_config(registry.images["user"].ref, name="run",
                                         command=["sleep", "1000"],
                                         envs=[api_pb2.KeyValue(key="GREETING", value=b"hi")],
                                         working_dir="/tmp"))
    client.call("StartContainer", container_id=cid)
    return cid


def exec_sync(client, cid, cmd, timeout=0):
    req = api_pb2.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout)
    return client.call("ExecSync", req, timeout=60)


def test_sigterm_lets_a_call_in_flight_finish(client, running, crispd):
    """SIGTERM stops taking calls but answers those in flight (up to shutdown_timeout_seconds)
    before crispd exits; the container runs on."""
    result = {}

    def slow():
        result["r"] = exec_sync(client, running, ["sh", "-c", "sleep 1; echo done"])

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    assert crispd.stop(signal.SIGTERM, timeout=20) == 0
    t.join(timeout=10)
    assert result["r"].exit_code == 0 and result["r"].stdout == b"done\n"
    crispd.start()  # the fixtures remove the pod through it
    assert status(client, running).state == api_pb2.CONTAINER_RUNNING


def test_status_reports_user_and_resources(registry, client, pod):
    client.call("PullImage", image=api_pb2.ImageSpec(image=registry.images["username"].ref),
                timeout=60)
    res = api_pb2.LinuxContainerResources(cpu_shares=512, memory_limit_in_bytes=64 << 20)
    cid = create(client, pod, ctr_config(registry.images["username"].ref, name="who",
                                         command=["true"],
                                         linux=api_pb2.LinuxContainerConfig(resources=res)))
    st = status(client, cid)
    assert st.user.linux.uid == 1000 and st.user.linux.gid == 1000
    # the primary group first, then "extra" (app is a member of it in the image's /etc/group)
    assert list(st.user.linux.supplemental_groups) == [1000, 2000]
    assert st.resources.linux.cpu_shares == 512
    assert st.resources.linux.memory_limit_in_bytes == 64 << 20


def test_exec_sync_output_exit_code_and_context(client, running):
    r = exec_sync(client, running, ["sh", "-c", "echo out $GREETING; echo err >&2; id -u; pwd; exit 4"])
    assert r.exit_code == 4
    assert r.stdout == b"out hi\n1000\n/tmp\n"
    assert r.stderr == b"err\n"


def test_exec_sync_sees_the_container(client, running):
    r = exec_sync(client, running, ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; hostname"])
    assert r.stdout == b"sleep 1000 p\n"


def test_exec_sync_timeout_kills_only_the_command(client, running):
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        exec_sync(client, running, ["sleep", "60"], timeout=1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 10
    assert status(client, running).state == api_pb2.CONTAINER_RUNNING
    assert exec_sync(client, running, ["true"]).exit_code == 0


def test_exec_sync_large_output(client, running):
    r = exec_sync(client, running, ["sh", "-c", "yes 0123456789 | head -c 3000000"])
    assert r.exit_code == 0 and len(r.stdout) == 3000000


def test_exec_sync_missing_binary_is_exit_127(client, running):
    r = exec_sync(client, running, ["/no/such/tool"])
    assert r.exit_code == 127 and b"/no/such/tool" in r.stderr


def test_exec_sync_refuses_bad_requests(client, running, registry, pod):
    with pytest.raises(grpc.RpcError) as e:
        exec_sync(client, running, [])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        exec_sync(client, "0" * 64, ["true"])
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    created = create(client, pod, ctr_config(registry.images["busybox"].ref, name="idle",
                                             command=["true"]))
    with pytest.raises(grpc.RpcError) as e:
        exec_sync(client, created, ["true"])
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_exec_sync_leaves_no_zombies(client, running, crispd):
    for _ in range(10):
        exec_sync(client, running, ["true"])
    for child in children_of(crispd.proc.pid):
        assert proc_stat(child)[0] != "Z", f"zombie child {child} of crispd"


def test_reopen_container_log_after_rotation(registry, client, crispd, pod):
    cid = create(client, pod, ctr_config(registry.images["busybox"].ref, name="rot", command=[
        "sh", "-c", "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.05; done"]))
    client.call("StartContainer", container_id=cid)
    log = crispd.dir / "rot.log"
    time.sleep(0.3)
    os.rename(log, crispd.dir / "rot.log.1")
    client.call("ReopenContainerLog", container_id=cid)
    time.sleep(0.3)
    old, new = log_lines(crispd.dir / "rot.log.1"), log_lines(log)
    assert old and new
    n_old, n_new = int(old[-1][2][4:]), int(new[0][2][4:])
    assert n_new == n_old + 1  # nothing lost, nothing doubled
    client.call("StopContainer", container_id=cid, timeout=0)
    with pytest.raises(grpc.RpcError) as e:
        client.call("ReopenContainerLog", container_id=cid)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize("image_name,sig", [("busybox", "TERM"), ("stopsignal", "INT")])
def test_stop_sends_the_stop_signal_first(registry, client, crispd, pod, image_name, sig):
    info = registry.images[image_name]
    client.call("PullImage", image=api_pb2.ImageSpec(image=info.ref), timeout=60)
    name = f"graceful{sig}"
    cid = create(client, pod, ctr_config(info.ref, name=name, command=[
        "sh", "-c", f"trap 'echo got {sig}; exit 0' {sig}; while true; do sleep 0.1; done"]))
    client.call("StartContainer", container_id=cid)
    time.sleep(0.3)
    start = time.monotonic()
    client.call("StopContainer", container_id=cid, timeout=10)
    assert time.monotonic() - start < 5  # the trap ended it, not the SIGKILL
    st = status(client, cid)
    assert st.exit_code == 0 and st.reason == "Completed"
    assert (b"stdout", b"F", f"got {sig}".encode()) in log_lines(crispd.dir / f"{name}.log")


def test_stop_right_after_start_is_not_lost(registry, client, crispd, pod):
    """A container stopped before its init installed its SIGTERM handler: the kernel drops a
    signal an init has no handler for, so crisp sends it again once the handler is there,
    instead of leaving the container to the SIGKILL after the whole grace period."""
    image = registry.images["busybox"].ref
    cid = create(client, pod, ctr_config(image, name="late-trap", command=[
        "sh", "-c", "sleep 0.5; trap 'echo got TERM; exit 0' TERM; "
                    "while true; do sleep 0.1; done"]))
    client.call("StartContainer", container_id=cid)
    start = time.monotonic()
    client.call("StopContainer", container_id=cid, timeout=30)
    assert time.monotonic() - start < 10  # not the 30 s grace period
    st = status(client, cid)
    assert st.exit_code == 0 and st.reason == "Completed"
    assert (b"stdout", b"F", b"got TERM") in log_lines(crispd.dir / "late-trap.log")
    assert "sent again: its init had no handler for it at first" in crispd.log()


DEFAULT_CAPS = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]  # the 14 containerd grants


def caps_of(lines, field):
    return int(next(l for l in lines if l.startswith(field.encode())).split()[1], 16)


def security(**kw):
    return api_pb2.LinuxContainerConfig(
        security_context=api_pb2.LinuxContainerSecurityContext(**kw))


def test_default_capabilities_and_no_new_privs(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    out = run_and_log(client, crispd, pod, image, "caps", ["grep", "-e", "Cap", "-e", "NoNewPrivs",
                                                          "/proc/self/status"])
    want = sum(1 << c for c in DEFAULT_CAPS)
    assert caps_of(out, "CapEff") == want and caps_of(out, "CapBnd") == want
    assert caps_of(out, "CapAmb") == 0
    assert b"NoNewPrivs:\t0" in out
    out = run_and_log(client, crispd, pod, image, "nnp", ["grep", "NoNewPrivs", "/proc/self/status"],
                      linux=security(no_new_privs=True))
    assert out == [b"NoNewPrivs:\t1"]


def test_capability_add_drop_and_privileged(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    caps = api_pb2.Capability(drop_capabilities=["ALL"], add_capabilities=["NET_BIND_SERVICE"])
    out = run_and_log(client, crispd, pod, image, "few", ["grep", "CapEff", "/proc/self/status"],
                      linux=security(capabilities=caps))
    assert caps_of(out, "CapEff") == 1 << 10
    out = run_and_log(client, crispd, pod, image, "noadmin",
                      ["sh", "-c", "hostname x 2>/dev/null; echo rc=$?"])
    assert out[-1] == b"rc=1"  # no CAP_SYS_ADMIN by default
    out = run_and_log(client, crispd, pod, image, "priv", ["grep", "CapEff", "/proc/self/status"],
                      linux=security(privileged=True))
    own = int(next(l for l in open("/proc/self/status") if l.startswith("CapBnd")).split()[1], 16)
    assert caps_of(out, "CapEff") == own
    with pytest.raises(grpc.RpcError) as e:
        create(client, pod, ctr_config(image, name="badcap", command=["true"],
                                       linux=security(capabilities=api_pb2.Capability(
                                           add_capabilities=["CAP_BOGUS"]))))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "CAP_BOGUS" in e.value.details()


def test_masked_and_readonly_paths_as_the_kubelet_sends_them(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    out = run_and_log(client, crispd, pod, image, "mask", [
        "sh", "-c", "wc -c < /proc/timer_list; ls /sys/firmware | wc -l; "
                    "(echo x > /proc/sys/kernel/hostname) 2>/dev/null; echo rc=$?"],
        linux=security(masked_paths=["/proc/timer_list", "/sys/firmware", "/proc/kcore"],
                       readonly_paths=["/proc/sys"]))
    assert out == [b"0", b"0", b"rc=1"]


def test_exec_sync_runs_with_the_containers_capabilities(registry, client, crispd, pod):
    caps = api_pb2.Capability(drop_capabilities=["ALL"], add_capabilities=["KILL"])
    cid = create(client, pod, ctr_config(registry.images["busybox"].ref, name="execcaps",
                                         command=["sleep", "1000"],
                                         linux=security(capabilities=caps, no_new_privs=True)))
    client.call("StartContainer", container_id=cid)
    r = exec_sync(client, cid, ["grep", "-e", "CapEff", "-e", "NoNewPrivs", "/proc/self/status"])
    lines = r.stdout.splitlines()
    assert caps_of(lines, "CapEff") == 1 << 5
    assert b"NoNewPrivs:\t1" in lines


def seccomp(kind, ref=""):
    return api_pb2.SecurityProfile(profile_type=kind, localhost_ref=ref)


def test_seccomp_runtime_default_unconfined_and_localhost(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    admin = api_pb2.Capability(add_capabilities=["SYS_ADMIN"])
    out = run_and_log(client, crispd, pod, image, "sd", [
        "sh", "-c", "grep Seccomp: /proc/self/status; unshare -n true 2>/dev/null; echo unshare=$?"],
        linux=security(seccomp=seccomp(api_pb2.SecurityProfile.RuntimeDefault)))
    # stdout and stderr are separate pipes: unshare's error may be logged after the echo
    assert out[0] == b"Seccomp:\t2" and b"unshare=1" in out
    out = run_and_log(client, crispd, pod, image, "un", [
        "sh", "-c", "grep Seccomp: /proc/self/status; hostname x && echo set"],
        linux=security(capabilities=admin,
                       seccomp=seccomp(api_pb2.SecurityProfile.Unconfined)))
    assert out == [b"Seccomp:\t0", b"set"]
    profile = crispd.dir / "deny-sethostname.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}))
    out = run_and_log(client, crispd, pod, image, "lh", [
        "sh", "-c", "hostname y 2>/dev/null; echo rc=$?"],
        linux=security(capabilities=admin,
                       seccomp=seccomp(api_pb2.SecurityProfile.Localhost, str(profile))))
    assert out == [b"rc=1"]


@pytest.mark.parametrize("profile,ref", [("{not json", None), (None, "relative.json"),
                                         (None, "/no/such/profile.json")])
def test_bad_seccomp_profiles_fail_create(registry, client, crispd, pod, profile, ref):
    if profile is not None:
        path = crispd.dir / "bad.json"
        path.write_text(profile)
        ref = str(path)
    with pytest.raises(grpc.RpcError) as e:
        create(client, pod, ctr_config(registry.images["busybox"].ref, name="badsc",
                                       command=["true"], linux=security(
                                           seccomp=seccomp(api_pb2.SecurityProfile.Localhost,
                                                           ref))))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    assert len(client.call("ListContainers").containers) == 0


def test_bidirectional_mount_propagates_both_ways(registry, client, crispd, pod):
    """PROPAGATION_BIDIRECTIONAL on a host path that is a shared mount (as the kubelet needs
    it): a host mount under it appears in the container, and a mount the container makes under
    it appears on the host (critest's rshared case); a private volume stays private."""
    src, priv = crispd.dir / "shared", crispd.dir / "private"
    for d in (src, priv):
        d.mkdir()
    subprocess.run(["mount", "--bind", str(src), str(src)], check=True)
    try:
        subprocess.run(["mount", "--make-rshared", str(src)], check=True)
        mounts = [api_pb2.Mount(container_path="/vol", host_path=str(src),
                                propagation=api_pb2.PROPAGATION_BIDIRECTIONAL),
                  api_pb2.Mount(container_path="/priv", host_path=str(priv))]
        cid = create(client, pod, ctr_config(
            registry.images["busybox"].ref, name="bidi", command=["sleep", "1000"],
            mounts=mounts, linux=security(privileged=True)))
        client.call("StartContainer", container_id=cid)
        (src / "from-host").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "crisp-h", str(src / "from-host")],
                       check=True)
        (src / "from-host" / "flag").write_text("h")
        out = exec_sync(client, cid, ["sh", "-c", "cat /vol/from-host/flag; mkdir /vol/from-ctr && "
                                      "mount -t tmpfs -o size=1m crisp-c /vol/from-ctr && "
                                      "echo c > /vol/from-ctr/flag && mkdir /priv/m && "
                                      "mount -t tmpfs -o size=1m crisp-p /priv/m && echo ok"])
        assert out.stdout == b"hok\n", out.stderr
        assert (src / "from-ctr" / "flag").read_text() == "c\n"
        assert not os.path.ismount(priv / "m")
        client.call("StopContainer", container_id=cid, timeout=0)
    finally:
        unmount_under(crispd.dir / "shared")
        subprocess.run(["umount", "-l", str(src)], check=False)


@pytest.mark.parametrize("propagation", [api_pb2.PROPAGATION_BIDIRECTIONAL,
                                         api_pb2.PROPAGATION_HOST_TO_CONTAINER])
def test_propagation_from_a_private_host_mount_is_refused(registry, client, crispd, pod,
                                                          propagation):
    """As containerd: nothing can propagate from a private mount, so asking for it fails
    CreateContainer with the mount named instead of silently not propagating."""
    src = crispd.dir / "private-src"
    src.mkdir()
    subprocess.run(["mount", "--bind", str(src), str(src)], check=True)
    try:
        subprocess.run(["mount", "--make-private", str(src)], check=True)
        mounts = [api_pb2.Mount(container_path="/vol", host_path=str(src / "."),
                                propagation=propagation)]
        with pytest.raises(grpc.RpcError) as e:
            create(client, pod, ctr_config(registry.images["busybox"].ref, name="priv",
                                           command=["true"], mounts=mounts))
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert f'is mounted on "{src}", which is not a shared' in e.value.details()
    finally:
        subprocess.run(["umount", "-l", str(src)], check=False)
