"""Port-forward over SPDY/3.1 (portforward.k8s.io): busybox httpd in a pod, reached at
127.0.0.1:<port> inside the pod's network namespace (and on the host's loopback for a
hostNetwork pod), ten connections at once in one session, errors on the error stream."""
import socket

import grpc
import pytest

from spdy_client import Session, UpgradeRefused, wait_all
from stream_util import run_container, run_pod, wait_until

PF = ["portforward.k8s.io"]
BODY = b"hello from the pod\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def httpd(client, registry, pod, port):
    cmd = ["sh", "-c", f"mkdir -p /tmp/www && printf '{BODY.decode()[:-1]}\\n' > /tmp/www/index.html"
           f" && exec busybox httpd -f -p 127.0.0.1:{port} -h /tmp/www"]
    cid = run_container(client, registry, pod, cmd, name="web")
    def serving():
        r = client.call("ExecSync", container_id=cid, cmd=[
            "sh", "-c", f"busybox nc -w 1 127.0.0.1 {port} </dev/null"], timeout=5)
        return r.exit_code == 0
    wait_until(serving, what="httpd to listen")
    return cid


def fetch_pairs(session, port, n):
    pairs = []
    for i in range(n):
        err = session.open(streamtype="error", port=str(port), requestid=str(i))
        data = session.open(streamtype="data", port=str(port), requestid=str(i))
        pairs.append((err, data))
    for err, data in pairs:
        session.send(data, b"GET /index.html HTTP/1.0\r\n\r\n", fin=True)
    wait_all([d for _, d in pairs])
    return pairs


@pytest.fixture
def pod_with_httpd(registry, client, crispd):
    pod = run_pod(client, crispd, registry)
    httpd(client, registry, pod, 8080)
    yield pod[0], 8080
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def test_ten_concurrent_connections_in_the_pod_network(client, pod_with_httpd):
    pod_id, port = pod_with_httpd
    url = client.call("PortForward", pod_sandbox_id=pod_id, port=[port]).url
    s = Session(url, PF)
    assert s.protocol == "portforward.k8s.io"
    pairs = fetch_pairs(s, port, 10)
    for err, data in pairs:
        assert data.data.startswith(b"HTTP/1.") and b" 200 " in data.data[:20]
        assert data.data.endswith(BODY)
        assert err.data == b""
    s.close()


def test_closed_port_reports_on_the_error_stream(client, pod_with_httpd):
    url = client.call("PortForward", pod_sandbox_id=pod_with_httpd[0]).url
    s = Session(url, PF)
    err = s.open(streamtype="error", port="8081", requestid="1")
    data = s.open(streamtype="data", port="8081", requestid="1")
    wait_all([err, data])
    assert b"8081" in err.data and b"refused" in err.data.lower()
    s.close()


def test_host_network_pod_uses_the_host_loopback(registry, client, crispd):
    port = free_port()
    pod = run_pod(client, crispd, registry, host_network=True, name="hostnet")
    try:
        httpd(client, registry, pod, port)
        url = client.call("PortForward", pod_sandbox_id=pod[0], port=[port]).url
        s = Session(url, PF)
        pairs = fetch_pairs(s, port, 3)
        assert all(d.data.endswith(BODY) for _, d in pairs)
        s.close()
    finally:
        client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def test_bad_streams_are_reset(client, pod_with_httpd):
    s = Session(client.call("PortForward", pod_sandbox_id=pod_with_httpd[0]).url, PF)
    bad_port = s.open(streamtype="data", port="0", requestid="1")
    no_type = s.open(port="8080", requestid="2")
    wait_all([bad_port, no_type])
    assert bad_port.reset and no_type.reset
    # the session still works
    pairs = fetch_pairs(s, 8080, 1)
    assert pairs[0][1].data.endswith(BODY)
    s.close()


def test_port_forward_refuses_bad_requests(client, pod_with_httpd):
    for req, code in [(dict(pod_sandbox_id=""), grpc.StatusCode.INVALID_ARGUMENT),
                      (dict(pod_sandbox_id="f" * 64), grpc.StatusCode.NOT_FOUND),
                      (dict(pod_sandbox_id=pod_with_httpd[0], port=[70000]),
                       grpc.StatusCode.INVALID_ARGUMENT)]:
        with pytest.raises(grpc.RpcError) as e:
            client.call("PortForward", **req)
        assert e.value.code() == code
    url = client.call("PortForward", pod_sandbox_id=pod_with_httpd[0]).url
    with pytest.raises(UpgradeRefused) as e:
        Session(url, ["v4.channel.k8s.io"])
    assert e.value.status == 403
