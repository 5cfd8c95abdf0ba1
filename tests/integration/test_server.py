"""The gRPC surface: every method answers, bad input gets the right code,
concurrency, shutdown, socket ownership."""
import os
import signal
import stat
import threading
import time

import grpc
import pytest

from conftest import api_pb2, Client

RUNTIME = "/runtime.v1.RuntimeService/"


def all_methods():
    for service in api_pb2.DESCRIPTOR.services_by_name.values():
        for m in service.methods:
            yield service.name, m


def test_proto_has_all_41_rpcs():
    names = [m.name for _, m in all_methods()]
    assert len(names) == 41
    assert len(set(names)) == 41


def test_version(client):
    v = client.call("Version")
    assert v.runtime_name == "crisp"
    assert v.runtime_api_version == "v1"
    assert v.version == "0.1.0"
    assert v.runtime_version


# Streams that last as long as the client wants: they end at its deadline.
ENDLESS_STREAMS = {"GetContainerEvents"}


def test_every_rpc_answers_or_is_unimplemented_within_1s(client):
    answered = unimplemented = 0
    for service, m in all_methods():
        start = time.monotonic()
        try:
            client.call(m.name, service=service, timeout=1)
            answered += 1
        except grpc.RpcError as e:
            if m.name in ENDLESS_STREAMS and e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                answered += 1
                continue
            assert e.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INVALID_ARGUMENT), \
                f"{m.name}: {e.code()} {e.details()}"
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                assert e.details() == f"crisp: {m.name} is not implemented yet"
                unimplemented += 1
        assert time.monotonic() - start < 1.0, m.name
    assert answered >= 4  # Version, Status, RuntimeConfig, UpdateRuntimeConfig
    assert answered + unimplemented <= 41


def test_server_streaming_methods_end_with_a_status(client):
    for service, m in all_methods():
        if not m.server_streaming or m.name in ENDLESS_STREAMS:
            continue
        try:
            client.call(m.name, service=service, timeout=1)
        except grpc.RpcError as e:
            assert e.code() != grpc.StatusCode.DEADLINE_EXCEEDED, m.name


@pytest.mark.parametrize("payload", [b"\xff\xff\xff", b"\x0a\x05ab", b"\x0b", b"\x08"])
def test_malformed_protobuf_is_invalid_argument(client, payload):
    with pytest.raises(grpc.RpcError) as e:
        client.raw(RUNTIME + "Version", payload)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "VersionRequest" in e.value.details()
    assert client.call("Version").runtime_name == "crisp"


def test_empty_message_is_a_valid_request(client):
    reply = client.raw(RUNTIME + "Version", b"")
    v = api_pb2.VersionResponse.FromString(reply)
    assert v.runtime_name == "crisp"


def test_20_mib_message_is_resource_exhausted(client):
    with pytest.raises(grpc.RpcError) as e:
        client.raw(RUNTIME + "Version", b"\x0a" + b"\x80\x80\x80\x0a" + b"x" * (20 << 20))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert client.call("Version").runtime_name == "crisp"


def test_message_limit_is_configurable(crispd_factory):
    d = crispd_factory(config=None)
    d.config = d.dir / "crisp.json"
    d.config.write_text('{"max_recv_message_size": 65536}')
    d.start()
    c = d.client()
    c.raw(RUNTIME + "Version", b"\x0a\x80\x01" + b"x" * 128)
    with pytest.raises(grpc.RpcError) as e:
        c.raw(RUNTIME + "Version", b"\x0a\x80\x80\x05" + b"x" * (80 << 10))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    c.close()


@pytest.mark.parametrize("path", [RUNTIME + "Nope", "/runtime.v1.ImageService/Version",
                                  "/foo.Bar/Baz", RUNTIME + "VersionX"])
def test_unknown_method_is_unimplemented(client, path):
    with pytest.raises(grpc.RpcError) as e:
        client.raw(path, b"")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "unknown method" in e.value.details()
    assert client.call("Version").runtime_name == "crisp"


def test_64_concurrent_clients_1000_calls_each(crispd):
    errors = []
    done = []

    def worker():
        c = crispd.client()
        try:
            for i in range(1000):
                if i % 2:
                    c.call("Version")
                else:
                    c.call("Status")
            done.append(1)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    assert len(done) == 64


def test_slow_clients_do_not_block_others(crispd):
    """Clients that open calls and never finish sending do not hold the workers."""
    stuck = []
    for _ in range(40):
        c = crispd.client()
        fn = c.channel.stream_unary(RUNTIME + "Version", request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
        stop = threading.Event()

        def never_ending(stop=stop):
            stop.wait(30)
            return
            yield

        stuck.append((c, fn.future(never_ending(), timeout=30), stop))
    time.sleep(0.3)
    c = crispd.client()
    start = time.monotonic()
    assert c.call("Version", timeout=2).runtime_name == "crisp"
    assert time.monotonic() - start < 1.0
    c.close()
    for sc, fut, stop in stuck:
        stop.set()
        fut.cancel()
        sc.close()


def test_sigterm_with_calls_in_flight_exits_cleanly(crispd):
    stop = threading.Event()
    failures = []

    def hammer():
        c = crispd.client()
        while not stop.is_set():
            try:
                c.call("Status", verbose=True, timeout=5)
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    failures.append(e)
                break
        c.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    assert crispd.stop(signal.SIGTERM, timeout=20) == 0
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert not failures, failures[:3]
    assert not crispd.socket.exists()
    assert "stopping" in crispd.log()


def test_sigterm_does_not_wait_for_idle_connections(crispd):
    """A client that keeps its connection open after its calls (kubelets and crictl's library
    do) does not hold up the stop: once no call is left, crispd drops the connections
    instead of waiting for the client to close them after the GOAWAY (~5 s for grpc C-core
    clients, up to shutdown_timeout_seconds for others)."""
    c = crispd.client()
    c.call("Version")
    t0 = time.monotonic()
    assert crispd.stop(signal.SIGTERM, timeout=20) == 0
    assert time.monotonic() - t0 < 3
    c.close()


def test_sigint_stops_too(crispd):
    assert crispd.stop(signal.SIGINT) == 0
    assert not crispd.socket.exists()


def test_second_crispd_on_the_same_socket_refuses(crispd, crispd_factory):
    second = crispd_factory("second")
    second.socket = crispd.socket
    second.start(wait=False)
    assert second.proc.wait(timeout=10) == 1
    assert "already serving" in second.log()
    assert str(crispd.socket) in second.log()
    c = crispd.client()
    assert c.call("Version").runtime_name == "crisp"
    c.close()


def test_foreign_listener_on_the_socket_refuses(crispd_factory):
    import socket as s
    d = crispd_factory()
    d.dir.mkdir(exist_ok=True)
    sock = s.socket(s.AF_UNIX, s.SOCK_STREAM)
    sock.bind(str(d.socket))
    sock.listen(1)
    try:
        d.start(wait=False)
        assert d.proc.wait(timeout=10) == 1
        assert "another process is listening" in d.log()
    finally:
        sock.close()


def test_stale_socket_file_is_replaced(crispd_factory):
    import socket as s
    d = crispd_factory()
    sock = s.socket(s.AF_UNIX, s.SOCK_STREAM)
    sock.bind(str(d.socket))
    sock.close()  # the file stays, nobody listens
    d.start()
    c = d.client()
    assert c.call("Version").runtime_name == "crisp"
    c.close()


def test_socket_mode_is_0660(crispd):
    assert stat.S_IMODE(os.stat(crispd.socket).st_mode) == 0o660


def test_restart_after_sigkill_reuses_the_socket(crispd_factory):
    d = crispd_factory().start()
    d.proc.kill()
    d.proc.wait()
    d._stderr.close()
    assert d.socket.exists()
    d.start()
    c = d.client()
    assert c.call("Version").runtime_name == "crisp"
    c.close()
