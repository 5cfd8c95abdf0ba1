"""stdin and tty containers through CRI: the pty and its log, the stdin pipe kept open, and the
monitor's attach socket (the backend of Attach) on containers crispd created."""
import os
import socket
import struct
import time

from conftest import api_pb2
from test_containers import create, ctr_config, log_lines, pod, status, wait_state  # noqa: F401

STDIN, STDOUT, STDERR, EXIT, RESIZE, STDIN_CLOSE = range(6)


class Attached:
    """A client of <state>/containers/<id>/attach.sock (reached through a dir fd: the path is
    longer than sun_path allows)."""

    def __init__(self, crispd, cid):
        d = os.open(crispd.state / "containers" / cid, os.O_PATH | os.O_DIRECTORY)
        try:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.sock.settimeout(10)
            self.sock.connect(f"/proc/self/fd/{d}/attach.sock")
        finally:
            os.close(d)
        self.out = {STDOUT: b"", STDERR: b""}
        self.exit_code = None

    def send(self, kind, payload=b""):
        self.sock.send(bytes([kind]) + payload)

    def recv_one(self):
        rec = self.sock.recv(65536)
        if not rec:
            return False
        kind, payload = rec[0], rec[1:]
        assert self.exit_code is None, "a record after EXIT"
        if kind == EXIT:
            (self.exit_code,) = struct.unpack("=i", payload)
        else:
            self.out[kind] += payload
        return True

    def until(self, text):
        while text not in self.out[STDOUT]:
            assert self.recv_one(), f"EOF before {text!r}: {self.out}"

    def to_eof(self):
        while self.recv_one():
            pass

    def close(self):
        self.sock.close()


def test_tty_container_logs_one_stream(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    cid = create(client, pod, ctr_config(
        image, command=["sh", "-c", "echo out; echo err >&2; tty; exit 2"], tty=True))
    client.call("StartContainer", container_id=cid, timeout=30)
    st = wait_state(client, cid, api_pb2.CONTAINER_EXITED)
    assert st.exit_code == 2
    # one stream, logged as stdout; the pty turns "\n" into "\r\n"
    assert log_lines(crispd.dir / "c.log") == [
        (b"stdout", b"F", b"out\r"), (b"stdout", b"F", b"err\r"),
        (b"stdout", b"F", b"/dev/pts/0\r")]


def test_stdin_is_kept_open_only_when_asked(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    with_stdin = create(client, pod, ctr_config(image, name="in", command=["cat"], stdin=True))
    without = create(client, pod, ctr_config(image, name="null", command=["cat"]))
    for cid in (with_stdin, without):
        client.call("StartContainer", container_id=cid, timeout=30)
    # cat of /dev/null ends at once; cat of the kept pipe waits for input
    assert wait_state(client, without, api_pb2.CONTAINER_EXITED).exit_code == 0
    time.sleep(0.3)
    assert status(client, with_stdin).state == api_pb2.CONTAINER_RUNNING
    # cat is pid 1 there: it ignores SIGTERM, so no grace period
    client.call("StopContainer", container_id=with_stdin, timeout=0)


def test_attach_stdin_once_echo_and_exit(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    cid = create(client, pod, ctr_config(
        image, command=["sh", "-c", "cat; echo done >&2; exit 3"], stdin=True, stdin_once=True))
    client.call("StartContainer", container_id=cid, timeout=30)
    watcher = Attached(crispd, cid)  # no stdin: its leaving does not end the container's stdin
    a = Attached(crispd, cid)
    a.send(STDIN)  # announces stdin, as crisp_ctr_attach does
    watcher.close()
    a.send(STDIN, b"hello\n")
    a.until(b"hello\n")
    assert status(client, cid).state == api_pb2.CONTAINER_RUNNING
    a.send(STDIN_CLOSE)
    a.to_eof()
    a.close()
    assert a.out == {STDOUT: b"hello\n", STDERR: b"done\n"}
    assert a.exit_code == 3
    assert wait_state(client, cid, api_pb2.CONTAINER_EXITED).exit_code == 3
    assert log_lines(crispd.dir / "c.log") == [(b"stdout", b"F", b"hello"),
                                               (b"stderr", b"F", b"done")]
    assert not (crispd.state / "containers" / cid / "attach.sock").exists()


def test_attach_tty_resize(registry, client, crispd, pod):
    image = registry.images["busybox"].ref
    cid = create(client, pod, ctr_config(
        image, command=["sh", "-c", "read x; stty size"], stdin=True, tty=True))
    client.call("StartContainer", container_id=cid, timeout=30)
    a = Attached(crispd, cid)
    a.send(RESIZE, struct.pack("=HH", 101, 33))
    a.send(STDIN, b"go\n")
    a.to_eof()
    a.close()
    assert b"33 101\r\n" in a.out[STDOUT] and a.out[STDERR] == b""
    assert a.exit_code == 0
    wait_state(client, cid, api_pb2.CONTAINER_EXITED)
    assert (b"stdout", b"F", b"33 101\r") in log_lines(crispd.dir / "c.log")
