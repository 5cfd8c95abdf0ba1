"""The streaming server's HTTP side: malformed, oversized, unknown and non-upgrade requests
get the right status and never disturb crispd; a silent client does not delay its stop."""
import json
import socket
import time
import urllib.parse

import pytest

from stream_util import exec_url, run_container, run_pod


@pytest.fixture
def base(registry, client, crispd):
    pod = run_pod(client, crispd, registry)
    cid = run_container(client, registry, pod, ["sleep", "1000"])
    url = exec_url(client, cid, ["true"])
    yield url, cid
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def raw(url, data):
    u = urllib.parse.urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(data)
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return resp
            resp += chunk


def status_of(resp):
    return int(resp.split(b" ", 2)[1])


def test_bad_requests(base, client):
    url, cid = base
    path = urllib.parse.urlsplit(url).path
    assert status_of(raw(url, b"garbage\r\n\r\n")) == 400
    assert status_of(raw(url, b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 9000 + b"\r\n\r\n")) == 431
    assert status_of(raw(url, b"DELETE " + path.encode() + b" HTTP/1.1\r\n\r\n")) == 405
    assert status_of(raw(url, b"GET /exec/nope/extra HTTP/1.1\r\n\r\n")) == 404
    assert status_of(raw(url, b"GET /metrics HTTP/1.1\r\n\r\n")) == 404
    # a valid token without an upgrade: refused, and the token is spent
    assert status_of(raw(url, b"GET " + path.encode() + b" HTTP/1.1\r\n\r\n")) == 400
    assert status_of(raw(url, b"GET " + path.encode() + b" HTTP/1.1\r\nUpgrade: SPDY/3.1\r\n"
                              b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")) == 404
    # an exec token does not open the attach or port-forward routes
    other = exec_url(client, cid, ["true"]).replace("/exec/", "/portforward/")
    assert status_of(raw(other, b"GET " + urllib.parse.urlsplit(other).path.encode() +
                         b" HTTP/1.1\r\nUpgrade: SPDY/3.1\r\n\r\n")) == 404
    assert client.call("Version").runtime_name == "crisp"


def test_a_silent_client_does_not_hold_up_the_stop(crispd_factory, workdir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = workdir / "stream.json"
    cfg.write_text(json.dumps({"stream_address": f"127.0.0.1:{port}"}))
    d = crispd_factory(config=cfg).start()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /exec/")  # and nothing more: the head would time out after 30 s
        time.sleep(0.2)
        start = time.monotonic()
        assert d.stop(timeout=25) == 0
        assert time.monotonic() - start < 15
        assert s.recv(100) == b""  # closed without an answer
