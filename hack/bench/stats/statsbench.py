"""ListContainerStats / ListPodSandboxStats latency with many running
containers. Not a test: `make bench-stats` runs it (as root).

A local registry (hack/testreg) serves the busybox test image; one crispd in
a temp dir runs BENCH_PODS pods of BENCH_PER_POD containers (`sleep 3600`,
100 in all by default); after the stats sampler has seen them all, each list
call is timed BENCH_CALLS times, client side (a real gRPC round trip).
Everything is removed on exit: pods through CRI, crispd stopped, mounts
under the temp dir unmounted, the bench's cgroups removed.
"""
import glob
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "hack"))

import conftest  # noqa: E402  (the integration tests' Crispd and Client)
from conftest import api_pb2  # noqa: E402
from testreg import images  # noqa: E402
from testreg.registry import Registry  # noqa: E402

PODS = int(os.environ.get("BENCH_PODS", "10"))
PER_POD = int(os.environ.get("BENCH_PER_POD", "10"))
CALLS = int(os.environ.get("BENCH_CALLS", "200"))
GOAL_MS = 20.0
CGROUP_PARENT = f"crisp-bench-stats-{os.getpid()}"


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.99) - 1]


def start_containers(client, image, workdir):
    for p in range(PODS):
        cfg = api_pb2.PodSandboxConfig(
            metadata=api_pb2.PodSandboxMetadata(name=f"p{p}", namespace="bench", uid=f"u{p}"),
            hostname=f"p{p}", log_directory=str(workdir),
            linux=api_pb2.LinuxPodSandboxConfig(cgroup_parent=CGROUP_PARENT))
        pid = client.call("RunPodSandbox", config=cfg, timeout=30).pod_sandbox_id
        for c in range(PER_POD):
            ccfg = api_pb2.ContainerConfig(
                metadata=api_pb2.ContainerMetadata(name=f"c{c}"),
                image=api_pb2.ImageSpec(image=image), command=["sleep", "3600"],
                log_path=f"p{p}-c{c}.log")
            cid = client.call("CreateContainer", pod_sandbox_id=pid, config=ccfg,
                              sandbox_config=cfg, timeout=30).container_id
            client.call("StartContainer", container_id=cid, timeout=30)


def remove_cgroups():
    for top in glob.glob(f"/sys/fs/cgroup/*/{CGROUP_PARENT}"):
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def bench(client):
    n = len(client.call("ListContainerStats").stats)
    ok = sum(1 for s in client.call("ListContainerStats").stats
             if s.cpu.usage_nano_cores.value >= 0 and s.HasField("writable_layer"))
    c50, c99 = timed(lambda: client.call("ListContainerStats"), CALLS)
    p50, p99 = timed(lambda: client.call("ListPodSandboxStats"), max(CALLS // 4, 10))
    print(f"running containers: {n} ({ok} with a writable layer measured) in {PODS} pods")
    print(f"ListContainerStats   p50 {c50:7.2f} ms   p99 {c99:7.2f} ms   "
          f"(goal p50 < {GOAL_MS:.0f} ms: {'met' if c50 < GOAL_MS else 'MISSED'})")
    print(f"ListPodSandboxStats  p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    return c50 < GOAL_MS


def main():
    with tempfile.TemporaryDirectory(prefix="crisp-bench-stats-") as tmp:
        tmp = Path(tmp)
        (tmp / "reg").mkdir()
        (tmp / "crispd").mkdir()
        crispd = None
        try:
            with Registry(str(tmp / "reg")) as reg:
                image = images.push_all(reg)["busybox"].ref
                crispd = conftest.Crispd(tmp / "crispd", extra_args=["--log-level", "warn"])
                crispd.start()
                client = crispd.client()
                client.call("PullImage", image=api_pb2.ImageSpec(image=image), timeout=120)
                t = time.monotonic()
                start_containers(client, image, tmp)
                print(f"started {PODS * PER_POD} containers in {time.monotonic() - t:.1f} s")
                time.sleep(6)  # a full sampler round (writable layers every 5 s)
                met = bench(client)
                for p in client.call("ListPodSandbox").items:
                    client.call("RemovePodSandbox", pod_sandbox_id=p.id, timeout=60)
                client.close()
        finally:
            if crispd:
                crispd.stop()
            conftest.unmount_under(tmp)
            remove_cgroups()
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
