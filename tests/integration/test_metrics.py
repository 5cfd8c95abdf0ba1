"""The Prometheus endpoint: off by default, parses as Prometheus text (with
the official client's parser), and its counters move with the calls made."""
import json
import re
import socket
import time
import urllib.error
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import api_pb2
from test_containers import create, ctr_config, pod_config, wait_state


@pytest.fixture
def metrics_crispd(crispd_factory, workdir):
    cfg = workdir / "metrics.json"
    cfg.write_text(json.dumps({"metrics_address": "127.0.0.1:0"}))
    d = crispd_factory(config=cfg).start()
    m = re.search(r"serving /metrics on \S+ \(port (\d+)\)", d.log())
    assert m, d.log()
    d.metrics_url = f"http://127.0.0.1:{m.group(1)}/metrics"
    return d


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_counters_move_and_text_parses(registry, metrics_crispd):
    client = metrics_crispd.client()
    url = metrics_crispd.metrics_url
    before = scrape(url)
    for _ in range(3):
        client.call("Version")
    with pytest.raises(grpc.RpcError):
        client.call("ContainerStatus", container_id="0" * 64)
    image = registry.images["busybox"].ref
    client.call("PullImage", image=api_pb2.ImageSpec(image=image), timeout=60)
    cfg = pod_config(metrics_crispd.dir)
    pid = client.call("RunPodSandbox", config=cfg).pod_sandbox_id
    cid = create(client, (pid, cfg), ctr_config(image, command=["sleep", "1000"]))
    client.call("StartContainer", container_id=cid, timeout=30)
    wait_state(client, cid, api_pb2.CONTAINER_RUNNING)

    after = scrape(url)
    assert value(after, "crisp_grpc_requests_total", method="Version", code="OK") == \
        value(before, "crisp_grpc_requests_total", method="Version", code="OK") + 3
    assert value(after, "crisp_grpc_requests_total", method="ContainerStatus",
                 code="NOT_FOUND") == 1
    assert value(after, "crisp_grpc_errors_total", code="NOT_FOUND") == 1
    count = value(after, "crisp_grpc_request_duration_seconds_count", method="Version")
    assert count >= 3
    assert value(after, "crisp_grpc_request_duration_seconds_bucket", method="Version",
                 le="+Inf") == count
    assert value(after, "crisp_grpc_request_duration_seconds_bucket", method="Version",
                 le="0.5") == count  # Version never takes half a second
    assert value(after, "crisp_image_pulls_total", result="ok") == 1
    assert value(after, "crisp_image_pull_bytes_total") > 500_000  # the busybox layer
    assert value(after, "crisp_image_pull_duration_seconds_count") == 1
    assert value(after, "crisp_pods", state="ready") == 1
    assert value(after, "crisp_containers", state="running") == 1
    assert value(after, "crisp_monitors") == 1
    assert value(after, "process_resident_memory_bytes") > 1_000_000
    assert value(after, "process_open_fds") > 3

    client.call("StopPodSandbox", pod_sandbox_id=pid, timeout=30)
    final = scrape(url)
    assert value(final, "crisp_pods", state="notready") == 1
    assert value(final, "crisp_containers", state="exited") == 1
    client.call("RemovePodSandbox", pod_sandbox_id=pid, timeout=30)
    client.close()


def test_http_errors(metrics_crispd):
    base = metrics_crispd.metrics_url.rsplit("/", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(base + "/other", timeout=5)
    assert e.value.code == 404
    req = urllib.request.Request(base + "/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 405
    # a client that connects and says nothing delays nobody
    host, port = base.split("//")[1].split(":")
    idle = socket.create_connection((host, int(port)))
    time.sleep(0.2)
    start = time.monotonic()
    s = socket.create_connection((host, int(port)))
    s.sendall(b"garbage\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 400")
    s.close()
    assert scrape(metrics_crispd.metrics_url)
    assert time.monotonic() - start < 2  # not the idle client's 5 s timeout
    idle.close()


def test_off_by_default(crispd):
    assert "serving /metrics" not in crispd.log()
