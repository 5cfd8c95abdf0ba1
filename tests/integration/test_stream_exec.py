"""Exec over the streaming server with SPDY/3.1 (the kubelet's hop): stdout/stderr, stdin
and its close, tty with resize, the v4 exit status and the older protocols' text, protocol
negotiation, one-time tokens, request validation and clean teardown."""
import json
import struct
import time

import grpc
import pytest

from spdy_client import Session, UpgradeRefused, wait_all
from stream_util import (exec_url, exit_code_of, open_fds, processes_named, run_container,
                         run_pod, wait_until)

V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]


@pytest.fixture
def ctr(registry, client, crispd):
    pod = run_pod(client, crispd, registry)
    cid = run_container(client, registry, pod, ["sleep", "1000"])
    yield cid
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)


def run_exec(client, cid, cmd, stdin=None, protocols=V4, tty=False, resize=None):
    url = exec_url(client, cid, cmd, tty=tty, stdin=stdin is not None, stderr=not tty)
    s = Session(url, protocols)
    err = s.open(streamtype="error")
    out = s.open(streamtype="stdout")
    errs = None if tty else s.open(streamtype="stderr")
    rs = s.open(streamtype="resize") if tty and s.protocol != "v2.channel.k8s.io" else None
    if resize and rs:
        s.send(rs, json.dumps({"Width": resize[0], "Height": resize[1]}).encode())
    if stdin is not None:
        sin = s.open(streamtype="stdin")
        for chunk in stdin if isinstance(stdin, list) else [stdin]:
            s.send(sin, chunk)
            time.sleep(0.2 if isinstance(stdin, list) else 0)
        s.send(sin, b"", fin=True)
    wait_all([err, out] + ([errs] if errs else []))
    s.close()
    return s, bytes(out.data), bytes(errs.data) if errs else b"", bytes(err.data)


def test_exec_output_and_nonzero_exit_v4(client, ctr):
    s, out, err, status = run_exec(client, ctr, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert s.protocol == "v4.channel.k8s.io"
    assert out == b"out\n" and err == b"err\n"
    assert exit_code_of(status) == 3
    assert json.loads(status)["message"] == "command terminated with non-zero exit code: 3"


def test_exec_success_status(client, ctr):
    _, out, _, status = run_exec(client, ctr, ["echo", "hi"])
    assert out == b"hi\n" and json.loads(status) == {"metadata": {}, "status": "Success"}


def test_exec_stdin_and_its_close(client, ctr):
    _, out, _, status = run_exec(client, ctr, ["sh", "-c", "cat; echo done"],
                                 stdin=b"hello\nworld\n")
    assert out == b"hello\nworld\ndone\n" and exit_code_of(status) == 0


def test_exec_large_output(client, ctr):
    _, out, _, status = run_exec(client, ctr, ["sh", "-c", "yes 0123456789 | head -c 2000000"])
    assert len(out) == 2000000 and exit_code_of(status) == 0


def test_exec_tty_with_resize(client, ctr):
    _, out, _, status = run_exec(client, ctr, ["sh"], tty=True, resize=(100, 40),
                                 stdin=[b"busybox stty size\n", b"exit 5\n"])
    assert b"40 100" in out
    assert exit_code_of(status) == 5


def test_exec_missing_binary_exits_127(client, ctr):
    _, _, err, status = run_exec(client, ctr, ["/no/such/tool"])
    assert exit_code_of(status) == 127 and b"/no/such/tool" in err


def test_older_protocols_report_failure_as_text(client, ctr):
    s, out, _, status = run_exec(client, ctr, ["sh", "-c", "echo x; exit 2"],
                                 protocols=["v2.channel.k8s.io"])
    assert s.protocol == "v2.channel.k8s.io" and out == b"x\n"
    assert status == b"command terminated with non-zero exit code: 2"
    _, _, _, status = run_exec(client, ctr, ["true"], protocols=["channel.k8s.io"])
    assert status == b""


def test_protocol_negotiation_errors(client, ctr):
    with pytest.raises(UpgradeRefused) as e:
        Session(exec_url(client, ctr, ["true"]), [])
    assert e.value.status == 400
    with pytest.raises(UpgradeRefused) as e:
        Session(exec_url(client, ctr, ["true"]), ["v9.channel.k8s.io"])
    assert e.value.status == 403
    accepted = [v for k, v in e.value.headers if k == "X-Accepted-Stream-Protocol-Versions"]
    assert accepted == V4


def test_tokens_are_single_use(client, ctr):
    url = exec_url(client, ctr, ["true"])
    run = Session(url, V4)
    run.close()
    with pytest.raises(UpgradeRefused) as e:
        Session(url, V4)
    assert e.value.status == 404
    with pytest.raises(UpgradeRefused) as e:
        Session(url.rsplit("/", 1)[0] + "/" + "0" * 32, V4)
    assert e.value.status == 404


def test_tokens_expire(registry, crispd_factory, workdir):
    cfg = workdir / "ttl.json"
    cfg.write_text(json.dumps({"stream_token_ttl_seconds": 1}))
    d = crispd_factory(config=cfg).start()
    client = d.client()
    pod = run_pod(client, d, registry)
    cid = run_container(client, registry, pod, ["sleep", "1000"])
    url = exec_url(client, cid, ["true"])
    time.sleep(1.5)
    with pytest.raises(UpgradeRefused) as e:
        Session(url, V4)
    assert e.value.status == 404
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    client.close()


@pytest.mark.parametrize("change,code", [
    (dict(cmd=[]), grpc.StatusCode.INVALID_ARGUMENT),
    (dict(stdout=False, stderr=False), grpc.StatusCode.INVALID_ARGUMENT),
    (dict(tty=True, stderr=True), grpc.StatusCode.INVALID_ARGUMENT),
    (dict(container_id=""), grpc.StatusCode.INVALID_ARGUMENT),
    (dict(container_id="f" * 64), grpc.StatusCode.NOT_FOUND),
])
def test_exec_refuses_bad_requests(client, ctr, change, code):
    req = dict(container_id=ctr, cmd=["true"], stdout=True, stderr=True)
    req.update(change)
    with pytest.raises(grpc.RpcError) as e:
        client.call("Exec", **req)
    assert e.value.code() == code


def test_exec_into_a_stopped_container_is_refused(client, ctr):
    client.call("StopContainer", container_id=ctr, timeout=0)
    with pytest.raises(grpc.RpcError) as e:
        exec_url(client, ctr, ["true"])
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_client_leaving_mid_stream_leaves_no_process_or_fd(client, ctr, crispd):
    run_exec(client, ctr, ["true"])  # warm up: lazily opened fds of crispd are not leaks
    before = open_fds(crispd.proc.pid)
    for _ in range(3):
        s = Session(exec_url(client, ctr, ["sleep", "1007"], stdin=True), V4)
        streams = [s.open(streamtype=t) for t in ("error", "stdout", "stderr", "stdin")]
        s.send(streams[3], b"x")
        wait_until(lambda: processes_named(["sleep", "1007"]), what="the exec'd sleep")
        s.close()
    wait_until(lambda: not processes_named(["sleep", "1007"]), what="the sleeps to be killed")
    # <=: the warm-up's own connection may still have been closing when `before` was read
    wait_until(lambda: open_fds(crispd.proc.pid) <= before,
               what=f"crispd's fds to return to {before}")


def test_stdin_that_comes_before_the_other_streams_is_kept(client, ctr):
    s = Session(exec_url(client, ctr, ["sh", "-c", "cat; echo end"], stdin=True), V4)
    sin = s.open(streamtype="stdin")
    s.send(sin, b"early\n", fin=True)  # the command cannot have started yet
    err, out, errs = [s.open(streamtype=t) for t in ("error", "stdout", "stderr")]
    wait_all([err, out, errs])
    s.close()
    assert bytes(out.data) == b"early\nend\n" and exit_code_of(bytes(err.data)) == 0


def test_stdin_and_output_never_block_each_other(client, ctr):
    # The command writes 3 MB before it reads its 3 MB of stdin: crisp must keep reading the
    # output while the stdin it cannot deliver yet waits (and hold the client back meanwhile).
    big = b"z" * 3_000_000
    _, out, _, status = run_exec(client, ctr, ["sh", "-c", "yes | head -c 3000000; wc -c"],
                                 stdin=big)
    assert out.startswith(b"y\ny\n") and out.endswith(b"3000000\n") and len(out) > 3000000
    assert exit_code_of(status) == 0


def test_pings_are_echoed_and_settings_skipped(client, ctr):
    s = Session(exec_url(client, ctr, ["sh", "-c", "sleep 0.5; echo ok"]), V4)
    # SETTINGS (initial window 1 MiB) and a WINDOW_UPDATE: taken in, never answered
    s.send_raw(s._control(4, 0, struct.pack(">III", 1, 0x07, 1 << 20)))
    s.send_raw(s._control(9, 0, struct.pack(">II", 0, 4096)))
    s.ping(5)
    err, out, errs = [s.open(streamtype=t) for t in ("error", "stdout", "stderr")]
    wait_all([err, out, errs])
    s.close()
    assert s.pings == [5] and bytes(out.data) == b"ok\n"


def test_idle_sessions_end_and_their_process_with_them(registry, crispd_factory, workdir):
    cfg = workdir / "idle.json"
    cfg.write_text(json.dumps({"stream_idle_timeout_seconds": 1}))
    d = crispd_factory(config=cfg).start()
    client = d.client()
    pod = run_pod(client, d, registry)
    cid = run_container(client, registry, pod, ["sleep", "1000"])
    s = Session(exec_url(client, cid, ["sleep", "1009"]), V4)
    streams = [s.open(streamtype=t) for t in ("error", "stdout", "stderr")]
    wait_until(lambda: processes_named(["sleep", "1009"]), what="the exec'd sleep")
    assert s.eof.wait(10), "the idle session was not closed"
    wait_until(lambda: not processes_named(["sleep", "1009"]), what="the sleep to be killed")
    assert all(st.closed.is_set() for st in streams)
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    client.close()


def test_crispd_stop_ends_open_sessions(registry, crispd_factory):
    d = crispd_factory().start()
    client = d.client()
    pod = run_pod(client, d, registry)
    cid = run_container(client, registry, pod, ["sleep", "1000"])
    s = Session(exec_url(client, cid, ["sleep", "1011"]), V4)
    [s.open(streamtype=t) for t in ("error", "stdout", "stderr")]
    wait_until(lambda: processes_named(["sleep", "1011"]), what="the exec'd sleep")
    client.close()
    assert d.stop(timeout=20) == 0
    assert s.eof.wait(5)
    assert not processes_named(["sleep", "1011"])  # killed by crispd, the container still runs
    d.start()
    client = d.client()
    client.call("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=30)
    client.close()


@pytest.mark.parametrize("garbage", [
    b"\x80\x02\x00\x01\x00\x00\x00\x00",                          # SPDY/2 control frame
    b"\x80\x03\x00\x01\x00\x00\x00\x0e" + b"\x00\x00\x00\x01" + b"\x00" * 6 + b"\xde\xad\xbe\xef",
    b"\x00\x00\x00\x01\x00\xff\xff\xff",                          # 16 MiB data frame
    b"\x80\x03\x00\x06\x00\x00\x00\x02\x00\x01",                  # short PING
])
def test_malformed_spdy_ends_the_session_cleanly(client, ctr, garbage):
    s = Session(exec_url(client, ctr, ["sleep", "30"]), V4)
    s.send_raw(garbage)
    assert s.eof.wait(10), "crispd kept a broken session open"
    s.close()
    assert client.call("Version").runtime_name == "crisp"
    assert exec_url(client, ctr, ["true"])


def test_tty_command_starts_with_the_clients_terminal_size(client, ctr):
    s = Session(exec_url(client, ctr, ["busybox", "stty", "size"], tty=True, stderr=False), V4)
    err, out, rs = [s.open(streamtype=t) for t in ("error", "stdout", "resize")]
    time.sleep(0.3)  # the size comes a little after the streams, as from a real client
    s.send(rs, json.dumps({"Width": 100, "Height": 40}).encode())
    wait_all([err, out])
    s.close()
    assert bytes(out.data) == b"40 100\r\n" and exit_code_of(bytes(err.data)) == 0
