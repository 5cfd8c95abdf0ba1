"""Attach over the streaming server (SPDY/3.1 and WebSocket) to the monitor's attach socket:
stdin, stdout, stderr of a non-tty container, a tty container with resize, and the checks
Attach makes before it hands out a URL."""
import json

import grpc
import pytest
import websocket

from spdy_client import Session, wait_all
from stream_util import run_container, run_pod, wait_until

V4 = ["v4.channel.k8s.io"]


@pytest.fixture
def pod(registry, client, crispd):
    p = run_pod(client, crispd, registry)
    yield p
    client.call("RemovePodSandbox", pod_sandbox_id=p[0], timeout=30)


def attach_url(client, cid, tty=False, stdin=True, stderr=True):
    return client.call("Attach", container_id=cid, tty=tty, stdin=stdin, stdout=True,
                       stderr=stderr).url


def test_attach_non_tty_container(registry, client, pod):
    cid = run_container(client, registry, pod,
                        ["sh", "-c", "read line; echo got $line; echo err >&2; exit 3"],
                        name="a", stdin=True)
    s = Session(attach_url(client, cid), V4)
    err, out, errs, sin = [s.open(streamtype=t) for t in ("error", "stdout", "stderr", "stdin")]
    wait_until(lambda: sin.replied.is_set(), what="stdin stream reply")
    s.send(sin, b"hello\n")
    wait_all([err, out, errs])
    s.close()
    assert bytes(out.data) == b"got hello\n" and bytes(errs.data) == b"err\n"
    assert json.loads(bytes(err.data))["status"] == "Success"
    st = client.call("ContainerStatus", container_id=cid).status
    assert st.exit_code == 3


def test_attach_tty_container_with_resize_over_websocket(registry, client, pod):
    cid = run_container(client, registry, pod, ["sh"], name="t", tty=True, stdin=True)
    url = attach_url(client, cid, tty=True, stderr=False)
    ws = websocket.create_connection("ws://" + url.split("://", 1)[1],
                                     subprotocols=["v5.channel.k8s.io"], timeout=20)
    ws.send_binary(b"\x04" + json.dumps({"Width": 90, "Height": 30}).encode())
    ws.send_binary(b"\x00busybox stty size; exit 4\n")
    out, status = b"", b""
    while True:
        try:
            op, msg = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            break
        if msg[:1] == b"\x01":
            out += msg[1:]
        elif msg[:1] == b"\x03":
            status += msg[1:]
    ws.close()
    assert b"30 90" in out
    assert json.loads(status)["status"] == "Success"


def test_attach_checks_the_request_against_the_container(registry, client, pod):
    cid = run_container(client, registry, pod, ["sleep", "1000"], name="s")
    with pytest.raises(grpc.RpcError) as e:
        attach_url(client, cid, stdin=True)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # created without stdin
    with pytest.raises(grpc.RpcError) as e:
        attach_url(client, cid, tty=True, stdin=False, stderr=False)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # created without a tty
    with pytest.raises(grpc.RpcError) as e:
        attach_url(client, cid, tty=True, stdin=False, stderr=True)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        attach_url(client, "f" * 64, stdin=False)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert attach_url(client, cid, stdin=False).startswith("http://127.0.0.1:")
