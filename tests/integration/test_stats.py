"""Container and pod stats: CPU, memory, writable layer, pod sums and network,
filters. A real crispd, real containers, real cgroups (v1 on this host)."""
import time

import pytest

from conftest import api_pb2
from test_containers import create, ctr_config, pod, wait_state  # noqa: F401 (fixture)

MiB = 1024 * 1024


def run(client, pod, image, name, script, labels=None):
    cid = create(client, pod, ctr_config(image, name=name, command=["sh", "-c", script],
                                         labels=labels or {}))
    client.call("StartContainer", container_id=cid, timeout=30)
    wait_state(client, cid, api_pb2.CONTAINER_RUNNING)
    return cid


def stats(client, cid):
    return client.call("ContainerStats", container_id=cid).stats


def poll(fn, ok, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if ok(v):
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout}s: {v}")
        time.sleep(0.25)


def test_cpu_burner_shows_rising_usage_and_about_one_core(registry, client, pod):
    cid = run(client, pod, registry.images["busybox"].ref, "burn", "while :; do :; done")
    first = stats(client, cid)
    assert first.attributes.id == cid and first.attributes.metadata.name == "burn"
    time.sleep(3)
    later = stats(client, cid)
    assert later.cpu.usage_core_nano_seconds.value > first.cpu.usage_core_nano_seconds.value
    assert later.cpu.timestamp > first.cpu.timestamp
    # One busy loop is at most one core, and about one on an idle machine; this
    # one is shared, so compare with the rate the cumulative counter shows.
    rate = (later.cpu.usage_core_nano_seconds.value - first.cpu.usage_core_nano_seconds.value) \
        * 1e9 / (later.cpu.timestamp - first.cpu.timestamp)
    nano = later.cpu.usage_nano_cores.value
    assert rate > 0.2e9 and nano <= 1.15e9, (rate, later.cpu)
    assert abs(nano - rate) < 0.35 * rate + 0.1e9, (rate, later.cpu)


def test_allocation_shows_in_working_set(registry, client, pod):
    # dd fills a 100 MiB buffer, then blocks writing it to a pipe nobody reads.
    cid = run(client, pod, registry.images["busybox"].ref, "mem",
              "dd if=/dev/zero bs=100M count=1 | sleep 1000")
    st = poll(lambda: stats(client, cid), lambda s: s.memory.working_set_bytes.value > 100 * MiB,
              what="working set above 100 MiB")
    m = st.memory
    assert m.usage_bytes.value >= m.working_set_bytes.value
    assert m.rss_bytes.value > 90 * MiB
    assert m.page_faults.value > 25000  # 100 MiB of 4 KiB pages were touched
    assert m.timestamp > 0


def test_rootfs_writes_show_in_writable_layer(registry, client, pod):
    cid = run(client, pod, registry.images["busybox"].ref, "disk", "sleep 1000")
    before = poll(lambda: stats(client, cid), lambda s: s.HasField("writable_layer"),
                  what="a writable layer measurement")
    client.call("ExecSync", container_id=cid, timeout=30,
                cmd=["dd", "if=/dev/zero", "of=/big", "bs=1M", "count=50"])
    st = poll(lambda: stats(client, cid),
              lambda s: s.writable_layer.used_bytes.value >= before.writable_layer.used_bytes.value
              + 50 * MiB, what="50 MiB more in the writable layer")
    assert st.writable_layer.inodes_used.value >= before.writable_layer.inodes_used.value + 1
    assert st.writable_layer.fs_id.mountpoint.endswith(f"/{cid}/upper")


def test_list_filters_and_pod_stats_sum_containers(registry, client, pod):
    image = registry.images["busybox"].ref
    a = run(client, pod, image, "a", "dd if=/dev/zero bs=20M count=1 | sleep 1000", {"app": "x"})
    b = run(client, pod, image, "b", "sleep 1000", {"app": "y"})
    pid = pod[0]
    all_ = client.call("ListContainerStats").stats
    assert {s.attributes.id for s in all_} == {a, b}
    by_label = client.call("ListContainerStats", filter=api_pb2.ContainerStatsFilter(
        label_selector={"app": "y"})).stats
    assert [s.attributes.id for s in by_label] == [b]
    by_id = client.call("ListContainerStats", filter=api_pb2.ContainerStatsFilter(id=a[:12])).stats
    assert [s.attributes.id for s in by_id] == [a]
    other_pod = client.call("ListContainerStats", filter=api_pb2.ContainerStatsFilter(
        pod_sandbox_id="f" * 64)).stats
    assert len(other_pod) == 0
    streamed = client.call("StreamContainerStats")
    assert {s.attributes.id for r in streamed for s in r.container_stats} == {a, b}

    poll(lambda: stats(client, a), lambda s: s.memory.working_set_bytes.value > 20 * MiB,
         what="container a's 20 MiB")
    ps = client.call("PodSandboxStats", pod_sandbox_id=pid).stats
    assert ps.attributes.id == pid and ps.attributes.metadata.name == "p"
    ctrs = {s.attributes.id: s for s in ps.linux.containers}
    assert set(ctrs) == {a, b}
    assert ps.linux.cpu.usage_core_nano_seconds.value == sum(
        s.cpu.usage_core_nano_seconds.value for s in ctrs.values())
    assert ps.linux.memory.working_set_bytes.value == sum(
        s.memory.working_set_bytes.value for s in ctrs.values())
    assert ps.linux.memory.working_set_bytes.value > 20 * MiB
    # sh + dd + sleep in a, sh + sleep in b (busybox may exec sleep in place of sh)
    assert 3 <= ps.linux.process.process_count.value <= 5
    listed = client.call("ListPodSandboxStats").stats
    assert [s.attributes.id for s in listed] == [pid]
    assert len(client.call("ListPodSandboxStats", filter=api_pb2.PodSandboxStatsFilter(
        label_selector={"none": "such"})).stats) == 0
    streamed = client.call("StreamPodSandboxStats")
    assert [s.attributes.id for r in streamed for s in r.pod_sandbox_stats] == [pid]


def test_pod_network_counts_loopback_traffic(registry, client, pod):
    pid = pod[0]

    def lo():
        net = client.call("PodSandboxStats", pod_sandbox_id=pid).stats.linux.network
        return {i.name: i for i in net.interfaces}["lo"]

    before = lo()
    cid = run(client, pod, registry.images["busybox"].ref, "ping", "sleep 1000")
    out = client.call("ExecSync", container_id=cid, timeout=30,
                      cmd=["busybox", "ping", "-c", "3", "-i", "0.2", "-s", "1000", "127.0.0.1"])
    assert out.exit_code == 0, out.stderr
    after = lo()
    # 3 requests and 3 replies of 1028 bytes each, seen both ways on lo
    assert after.rx_bytes.value - before.rx_bytes.value >= 6 * 1028
    assert after.tx_bytes.value - before.tx_bytes.value >= 6 * 1028
    net = client.call("PodSandboxStats", pod_sandbox_id=pid).stats.linux.network
    assert net.default_interface.name == "lo" and net.timestamp > 0


def test_errors_name_what_was_wrong(client, crispd):
    import grpc
    with pytest.raises(grpc.RpcError) as e:
        client.call("ContainerStats", container_id="")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "container_id is required" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        client.call("ContainerStats", container_id="0" * 64)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        client.call("PodSandboxStats", pod_sandbox_id="0" * 64)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_pod_sandbox_metrics_match_their_descriptors(registry, client, pod):
    cid = run(client, pod, registry.images["busybox"].ref, "m",
              "dd if=/dev/zero bs=10M count=1 | sleep 1000")
    descs = {d.name: d for d in client.call("ListMetricDescriptors").descriptors}
    for name in ["container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                 "container_fs_usage_bytes", "container_processes",
                 "container_network_receive_bytes_total"]:
        assert name in descs and descs[name].help
    poll(lambda: stats(client, cid), lambda s: s.HasField("writable_layer"),
         what="a writable layer measurement")
    resp = client.call("ListPodSandboxMetrics")
    assert [p.pod_sandbox_id for p in resp.pod_metrics] == [pod[0]]
    pm = resp.pod_metrics[0]
    assert [c.container_id for c in pm.container_metrics] == [cid]
    all_metrics = list(pm.metrics) + list(pm.container_metrics[0].metrics)
    for m in all_metrics:
        assert len(m.label_values) == len(descs[m.name].label_keys), m
        assert m.timestamp > 0
    by_name = {m.name: m for m in pm.container_metrics[0].metrics}
    assert by_name["container_memory_working_set_bytes"].value.value > 10 * MiB
    assert by_name["container_memory_working_set_bytes"].metric_type == api_pb2.GAUGE
    assert by_name["container_cpu_usage_seconds_total"].metric_type == api_pb2.COUNTER
    assert list(by_name["container_fs_usage_bytes"].label_values) == [
        cid, "m", registry.images["busybox"].ref]
    pod_level = {(m.name, tuple(m.label_values)) for m in pm.metrics}
    assert ("container_network_receive_bytes_total", (pod[0], "POD", "", "lo")) in pod_level
    assert any(m.name == "container_processes" and m.value.value >= 2 for m in pm.metrics)
    streamed = client.call("StreamPodSandboxMetrics")
    assert [p.pod_sandbox_id for r in streamed for p in r.pod_sandbox_metrics] == [pod[0]]


def test_checkpoint_is_unimplemented_with_the_reason(registry, client, pod):
    import grpc
    cid = run(client, pod, registry.images["busybox"].ref, "cp", "sleep 1000")
    with pytest.raises(grpc.RpcError) as e:
        client.call("CheckpointContainer", container_id=cid, location="/tmp/cp.tar")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "criu" in e.value.details().lower()
    with pytest.raises(grpc.RpcError) as e:
        client.call("CheckpointContainer", container_id="0" * 64)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        client.call("CheckpointContainer")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
