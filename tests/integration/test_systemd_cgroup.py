"""The systemd cgroup driver against a fake systemd (fakesystemd.py) on a
private dbus-daemon: this host's PID 1 is not systemd."""
import json
import os
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from conftest import api_pb2
from test_containers import create, ctr_config, status

HERE = Path(__file__).parent
SLICE_PREFIX = f"crispt{os.getpid()}"
SLICE = f"{SLICE_PREFIX}-pod1.slice"
SLICE_PATH = f"{SLICE_PREFIX}.slice/{SLICE}"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def cgroup_mounts():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] in ("cgroup", "cgroup2"):
                yield fields[4]


def wait_for(path, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"{proc.args[0]} exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


class FakeSystemd:
    def __init__(self, tmp):
        self.tmp = tmp
        self.socket = tmp / "bus.sock"
        self.address = f"unix:path={self.socket}"
        self.record = tmp / "calls.jsonl"
        self.procs = []

    def start(self):
        conf = self.tmp / "bus.conf"
        conf.write_text(BUS_CONFIG.format(socket=self.socket))
        bus = subprocess.Popen(["dbus-daemon", f"--config-file={conf}", "--nofork"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.procs.append(bus)
        wait_for(self.socket, bus)
        ready = self.tmp / "ready"
        fake = subprocess.Popen(["/usr/bin/python3", str(HERE / "fakesystemd.py"), self.address,
                                 str(self.record), str(ready)], stdin=subprocess.DEVNULL)
        self.procs.append(fake)
        wait_for(ready, fake)
        return self

    def calls(self, method=None):
        if not self.record.exists():
            return []
        entries = [json.loads(line) for line in self.record.read_text().splitlines()]
        return [e for e in entries if method is None or e["method"] == method]

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def remove_test_slices():
    for mount in cgroup_mounts():
        top = os.path.join(mount, f"{SLICE_PREFIX}.slice")
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


@pytest.fixture
def systemd(workdir, monkeypatch):
    fake = FakeSystemd(workdir).start()
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", fake.address)
    yield fake
    fake.stop()
    remove_test_slices()


def systemd_crispd(crispd_factory, workdir):
    cfg = workdir / "systemd.json"
    cfg.write_text(json.dumps({"cgroup_driver": "systemd"}))
    return crispd_factory(config=cfg)


def pod_config(tmp, name="p"):
    return api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name=name, namespace="default", uid=name),
        hostname=name, log_directory=str(tmp),
        linux=api_pb2.LinuxPodSandboxConfig(cgroup_parent=SLICE))


def cgroup_of(pid, controller):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(","):
                return path
    return None


def test_container_gets_a_scope_in_the_pods_slice(registry, systemd, crispd_factory, workdir):
    d = systemd_crispd(crispd_factory, workdir).start()
    c = d.client()
    assert "cgroup driver systemd (systemd 252-fake)" in d.log()
    image = registry.images["busybox"].ref
    c.call("PullImage", image=api_pb2.ImageSpec(image=image), timeout=60)
    cfg = pod_config(d.dir)
    pod = (c.call("RunPodSandbox", config=cfg).pod_sandbox_id, cfg)
    res = api_pb2.LinuxContainerResources(cpu_shares=512, cpu_period=100000, cpu_quota=50000,
                                          memory_limit_in_bytes=64 << 20, cpuset_cpus="0")
    cid = create(c, pod, ctr_config(image, name="s", command=["sleep", "1000"],
                                    linux=api_pb2.LinuxContainerConfig(resources=res)))
    unit = f"crisp-{cid}.scope"
    [start] = systemd.calls("StartTransientUnit")
    p = start["props"]
    assert start["unit"] == unit and start["mode"] == "replace"
    assert p["Slice"] == SLICE and p["Delegate"] is True and p["DefaultDependencies"] is False
    assert p["CPUShares"] == 512 and p["MemoryLimit"] == 64 << 20  # cgroup v1 names here
    assert p["CPUQuotaPerSecUSec"] == 500000 and p["CPUQuotaPeriodUSec"] == 100000
    assert p["AllowedCPUs"] == [1]
    [holder] = p["PIDs"]
    # a small placeholder (not a fork of crispd) held the scope, and is gone now
    assert start["cmdlines"] == [["crisp-monitor", "--placeholder", str(d.proc.pid)]]
    assert not os.path.exists(f"/proc/{holder}")
    c.call("StartContainer", container_id=cid)
    st = status(c, cid)
    assert st.state == api_pb2.CONTAINER_RUNNING
    pid = int((d.state / "containers" / cid / "pid").read_text())
    assert cgroup_of(pid, "memory") == f"/{SLICE_PATH}/{unit}"
    # What systemd would not write on this host, crisp wrote through cgroupfs.
    mem = Path("/sys/fs/cgroup/memory") / SLICE_PATH / unit
    assert int((mem / "memory.limit_in_bytes").read_text()) == 64 << 20
    c.call("RemoveContainer", container_id=cid, timeout=30)
    assert [e["unit"] for e in systemd.calls("StopUnit")] == [unit]
    assert not mem.exists()
    c.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    c.close()


def test_a_cgroupfs_path_is_refused_as_a_slice(registry, systemd, crispd_factory, workdir):
    d = systemd_crispd(crispd_factory, workdir).start()
    c = d.client()
    image = registry.images["busybox"].ref
    c.call("PullImage", image=api_pb2.ImageSpec(image=image), timeout=60)
    cfg = pod_config(d.dir)
    cfg.linux.cgroup_parent = "/kubepods/burstable/pod1"
    pod = (c.call("RunPodSandbox", config=cfg).pod_sandbox_id, cfg)
    with pytest.raises(grpc.RpcError) as e:
        create(c, pod, ctr_config(image, name="x", command=["true"]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a systemd slice name" in e.value.details()
    assert systemd.calls("StartTransientUnit") == []
    c.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    c.close()


def test_systemd_driver_without_systemd_is_a_startup_error(crispd_factory, workdir, monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={workdir}/no-bus.sock")
    d = systemd_crispd(crispd_factory, workdir)
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "crispd exited with 1" in str(e.value)
    assert "systemd is not reachable" in d.log() and "no-bus.sock" in d.log()
    assert '"cgroup_driver": "cgroupfs"' in d.log()


def test_pod_infra_process_gets_a_scope(systemd, crispd_factory, workdir):
    d = systemd_crispd(crispd_factory, workdir).start()
    c = d.client()
    cfg = pod_config(d.dir, "shared")
    cfg.linux.security_context.namespace_options.pid = api_pb2.POD
    pod_id = c.call("RunPodSandbox", config=cfg, timeout=30).pod_sandbox_id
    infra = json.loads((d.state / "pods" / pod_id / "state.json").read_text())["infra_pid"]
    unit = f"crisp-{pod_id}.scope"
    [start] = systemd.calls("StartTransientUnit")
    assert start["unit"] == unit and start["props"]["PIDs"] == [infra]
    assert start["props"]["Slice"] == SLICE
    assert cgroup_of(infra, "memory") == f"/{SLICE_PATH}/{unit}"
    c.call("StopPodSandbox", pod_sandbox_id=pod_id, timeout=30)
    assert [e["unit"] for e in systemd.calls("StopUnit")] == [unit]
    c.call("RemovePodSandbox", pod_sandbox_id=pod_id, timeout=30)
    c.close()


def test_crispd_check_reports_a_reachable_systemd(systemd, workdir):
    from conftest import CRISPD
    cfg = workdir / "systemd.json"
    cfg.write_text(json.dumps({"cgroup_driver": "systemd"}))
    r = subprocess.run([CRISPD, "check", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    assert ("ok       cgroup driver: systemd 252-fake answers on the system bus: start the "
            "kubelet with --cgroup-driver=systemd") in r.stdout, r.stdout + r.stderr
