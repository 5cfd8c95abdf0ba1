"""Exec and port-forward over WebSocket with a real client library (Debian's
python3-websocket): v5/v4 channel protocols and the base64 variant, tty and non-tty, stdin
and its v5 close, resize, exit codes; the port-forward channels."""
import base64
import json

import pytest
import websocket

from stream_util import exec_url, exit_code_of, run_container, run_pod, wait_until

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def ws_url(url):
    return "ws://" + url.split("://", 1)[1]


class Channels:
    """A k8s channel WebSocket: binary messages with a channel byte, or base64 text."""

    def __init__(self, url, protocol):
        self.ws = websocket.create_connection(ws_url(url), subprotocols=[protocol], timeout=20)
        self.base64 = "base64" in protocol
        self.data = {}

    def send(self, ch, payload):
        if self.base64:
            self.ws.send(chr(ord("0") + ch) + base64.b64encode(payload).decode())
        else:
            self.ws.send_binary(bytes([ch]) + payload)

    def recv_all(self):
        """Every message until the server closes, grouped by channel (first messages kept
        apart in self.first)."""
        self.first = []
        while True:
            try:
                op, msg = self.ws.recv_data()
            except websocket.WebSocketConnectionClosedException:
                break
            if op == websocket.ABNF.OPCODE_CLOSE:
                break
            if self.base64:
                ch, body = msg[0] - ord("0"), base64.b64decode(msg[1:])
            else:
                ch, body = msg[0], bytes(msg[1:])
            self.first.append((ch, body))
            self.data[ch] = self.data.get(ch, b"") + body
        self.ws.close()
        return self.data


@pytest.fixture
def ctr(registry, client, crispd):
    pod = run_pod(client, crispd, registry)
    cid = run_container(client, registry, pod, ["sleep", "1000"])
    yield cid
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


@pytest.mark.parametrize("protocol", ["v5.channel.k8s.io", "v4.channel.k8s.io",
                                      "v4.base64.channel.k8s.io"])
def test_exec_output_and_exit_code(client, ctr, protocol):
    c = Channels(exec_url(client, ctr, ["sh", "-c", "echo out; echo err >&2; exit 7"]), protocol)
    assert c.ws.subprotocol == protocol
    data = c.recv_all()
    assert c.first[0] == (STDOUT, b"")  # the kubelet's "connection is up" message
    assert data[STDOUT] == b"out\n" and data[STDERR] == b"err\n"
    assert exit_code_of(data[ERROR]) == 7


def test_exec_stdin_closed_with_v5_close_message(client, ctr):
    c = Channels(exec_url(client, ctr, ["sh", "-c", "cat; echo eof"], stdin=True),
                 "v5.channel.k8s.io")
    c.send(STDIN, b"abc\n")
    c.send(CLOSE, bytes([STDIN]))
    data = c.recv_all()
    assert data[STDOUT] == b"abc\neof\n" and exit_code_of(data[ERROR]) == 0


def test_exec_tty_resize_and_exit_code(client, ctr):
    url = exec_url(client, ctr, ["sh"], tty=True, stdin=True, stderr=False)
    c = Channels(url, "v4.channel.k8s.io")
    c.send(RESIZE, json.dumps({"Width": 123, "Height": 45}).encode())
    c.send(STDIN, b"busybox stty size; exit 9\n")
    data = c.recv_all()
    assert b"45 123" in data[STDOUT]
    assert exit_code_of(data[ERROR]) == 9


@pytest.mark.parametrize("protocol", ["v5.channel.k8s.io", "v4.base64.channel.k8s.io"])
def test_exec_tty_starts_with_the_clients_size(client, ctr, protocol):
    """kubectl sends the terminal size right after connecting: the command starts with it
    (a shell's first prompt, `stty size` at once), not at 0x0; stdin sent meanwhile waits."""
    url = exec_url(client, ctr, ["sh", "-c", "busybox stty size; read x; echo got $x"],
                   tty=True, stdin=True, stderr=False)
    c = Channels(url, protocol)
    c.send(STDIN, b"early\n")
    c.send(RESIZE, json.dumps({"Width": 99, "Height": 33}).encode())
    data = c.recv_all()
    lines = data[STDOUT].splitlines()  # the terminal echoes "early" when it is written
    assert b"33 99" in lines and b"got early" in lines and exit_code_of(data[ERROR]) == 0


def test_exec_tty_without_a_size_still_runs(client, ctr):
    """A client that never sends a size gets its command started after the wait, at 0x0."""
    c = Channels(exec_url(client, ctr, ["sh", "-c", "echo ran; exit 3"], tty=True, stderr=False),
                 "v5.channel.k8s.io")
    data = c.recv_all()
    assert data[STDOUT] == b"ran\r\n" and exit_code_of(data[ERROR]) == 3


def test_unsupported_subprotocol_is_refused(client, ctr):
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(ws_url(exec_url(client, ctr, ["true"])),
                                    subprotocols=["v9.channel.k8s.io"])
    assert e.value.status_code == 403


def test_port_forward_channels(registry, client, crispd):
    pod = run_pod(client, crispd, registry)
    try:
        cmd = ["sh", "-c", "mkdir /tmp/w && echo ws-pf > /tmp/w/index.html && "
                           "exec busybox httpd -f -p 127.0.0.1:8080 -h /tmp/w"]
        cid = run_container(client, registry, pod, cmd, name="web")
        wait_until(lambda: client.call("ExecSync", container_id=cid, cmd=[
            "sh", "-c", "busybox nc -w 1 127.0.0.1 8080 </dev/null"], timeout=5).exit_code == 0,
            what="httpd")
        url = client.call("PortForward", pod_sandbox_id=pod[0], port=[8080]).url
        c = Channels(url + "?port=8080&port=8081", "v4.channel.k8s.io")
        c.send(0, b"GET /index.html HTTP/1.0\r\n\r\n")
        received = b""
        while not received.endswith(b"ws-pf\n"):
            op, msg = c.ws.recv_data()
            if msg[0] == 0:
                received += bytes(msg[1:])
            elif msg[0] == 3 and len(msg) > 3:
                assert b"8081" in msg and b"refused" in msg.lower()
        port_le = (8080).to_bytes(2, "little")
        assert received.startswith(port_le) and b" 200 " in received[:40]
        c.ws.close()
    finally:
        client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


@pytest.mark.parametrize("message", ["1====", "0a===", "x", "0@@@@", "0QQ"])
def test_malformed_base64_messages_end_the_session_cleanly(client, ctr, message):
    url = exec_url(client, ctr, ["sleep", "30"], stdin=True)
    c = Channels(url, "v4.base64.channel.k8s.io")
    c.ws.send(message)
    data = c.recv_all()  # the server ends the session with an error status
    assert json.loads(data[ERROR])["status"] == "Failure"
    assert client.call("Version").runtime_name == "crisp"
