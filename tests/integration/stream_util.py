"""Helpers shared by the streaming tests: a running container to exec into, URLs, the
remote-command exit status, crispd's open fds."""
import json
import os
import time

from conftest import TEST_CGROUP_PARENT, api_pb2


def pod_config(tmp, name="p", uid="u1", host_network=False):
    ns = api_pb2.NamespaceOption(network=api_pb2.NODE if host_network else api_pb2.POD,
                                 pid=api_pb2.CONTAINER)
    return api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name=name, namespace="default", uid=uid),
        hostname=name, log_directory=str(tmp),
        linux=api_pb2.LinuxPodSandboxConfig(
            cgroup_parent=TEST_CGROUP_PARENT,
            security_context=api_pb2.LinuxSandboxSecurityContext(namespace_options=ns)))


def run_pod(client, crispd, registry, host_network=False, name="p"):
    client.call("PullImage", image=api_pb2.ImageSpec(image=registry.images["busybox"].ref),
                timeout=60)
    cfg = pod_config(crispd.dir, name=name, uid=name, host_network=host_network)
    return client.call("RunPodSandbox", config=cfg).pod_sandbox_id, cfg


def run_container(client, registry, pod, command, name="c", tty=False, stdin=False):
    pid, cfg = pod
    config = api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name=name),
        image=api_pb2.ImageSpec(image=registry.images["busybox"].ref),
        command=command, log_path=f"{name}.log", tty=tty, stdin=stdin)
    cid = client.call("CreateContainer", pod_sandbox_id=pid, config=config,
                      sandbox_config=cfg, timeout=30).container_id
    client.call("StartContainer", container_id=cid, timeout=30)
    return cid


def exec_url(client, cid, cmd, tty=False, stdin=False, stdout=True, stderr=True):
    return client.call("Exec", container_id=cid, cmd=cmd, tty=tty, stdin=stdin, stdout=stdout,
                       stderr=stderr).url


def exit_code_of(status_bytes):
    """The exit code a v4 error-stream Status reports."""
    st = json.loads(status_bytes)
    if st["status"] == "Success":
        return 0
    assert st["reason"] == "NonZeroExitCode", st
    causes = st["details"]["causes"]
    assert causes[0]["reason"] == "ExitCode"
    return int(causes[0]["message"])


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(pred, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def processes_named(cmdline_prefix):
    """Host pids whose command line starts with the given argv."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if argv[:len(cmdline_prefix)] == [a.encode() for a in cmdline_prefix]:
            found.append(int(p))
    return found
