"""GetContainerEvents end to end: a subscriber that stops reading really stops
the flow (its channel's HTTP/2 window is tiny and never grows), so crispd's
bounded per-subscriber buffer fills and its stream ends with
RESOURCE_EXHAUSTED, while a reading subscriber sees every event and crispd
keeps answering."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

from conftest import api_pb2
from test_containers import pod_config
from test_events import Subscriber

C = api_pb2
SUB_BUFFER = 1024  # CRISP_EVENTS_SUB_BUFFER in pkg/events/events.h
EVENTS_PER_POD = 4  # RunPodSandbox: CREATED, STARTED; RemovePodSandbox: STOPPED, DELETED
PODS = SUB_BUFFER // EVENTS_PER_POD + 64  # well past the buffer and what the window holds

# A client transport that takes one small message at a time: no BDP probing
# (which would grow the window), a lookahead (initial stream window) of 1 KiB.
TINY_WINDOW = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024)]


def stalled_subscriber(socket):
    channel = grpc.insecure_channel(f"unix://{socket}", options=TINY_WINDOW)
    fn = channel.unary_stream("/runtime.v1.RuntimeService/GetContainerEvents",
                              request_serializer=C.GetEventsRequest.SerializeToString,
                              response_deserializer=C.ContainerEventResponse.FromString)
    return channel, fn(C.GetEventsRequest(), timeout=300)


def pod_cycle(client, tmp, i):
    cfg = pod_config(tmp, name=f"ovf{i}", uid=f"ovf{i}")
    pid = client.call("RunPodSandbox", config=cfg, timeout=30).pod_sandbox_id
    client.call("RemovePodSandbox", pod_sandbox_id=pid, timeout=30)
    return pid


def drain(call):
    """Reads what the stalled subscriber was sent before its end; returns
    (events read, the RpcError that ended it)."""
    n = 0
    try:
        for _ in call:
            n += 1
    except grpc.RpcError as e:
        return n, e
    return n, None


def test_stalled_subscriber_overflows_while_a_reader_keeps_up(crispd):
    reader_client = crispd.client()
    reader = Subscriber(reader_client)
    channel, stalled = stalled_subscriber(crispd.socket)
    time.sleep(0.3)  # both subscribed
    try:
        c = crispd.client()
        with ThreadPoolExecutor(max_workers=4) as pool:
            pods = list(pool.map(lambda i: pod_cycle(c, crispd.dir, i), range(PODS)))
        total = PODS * EVENTS_PER_POD

        # the reader was not held up by the stalled subscriber: every event, each
        # pod's in its order
        got = reader.wait_for(total, timeout=60)
        assert len(got) == total and reader.error is None, (len(got), reader.error)
        for pid in pods:
            kinds = [k for i, k in got if i == pid]
            assert kinds == [C.CONTAINER_CREATED_EVENT, C.CONTAINER_STARTED_EVENT,
                             C.CONTAINER_STOPPED_EVENT, C.CONTAINER_DELETED_EVENT], (pid, kinds)

        # crispd answers while the stalled stream is still open
        assert c.call("Version").runtime_name == "crisp"

        # the stalled subscriber got what fit into its buffer and window, then the end
        done = threading.Event()
        result = []
        t = threading.Thread(target=lambda: (result.append(drain(stalled)), done.set()),
                             daemon=True)
        t.start()
        assert done.wait(30), "the stalled subscriber's stream did not end"
        n, error = result[0]
        assert error is not None, f"stream ended without an error after {n} of {total} events"
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
        assert "fell too far behind" in error.details() and "list containers" in error.details()
        assert n < total, n  # it did miss events
        assert n <= SUB_BUFFER + 16, n  # the flow really stopped: only the buffer and a window

        # a new subscriber works, and sees new events
        after = Subscriber(crispd.client())
        time.sleep(0.3)
        pid = pod_cycle(c, crispd.dir, PODS)
        assert after.wait_for(EVENTS_PER_POD)[:EVENTS_PER_POD] == [
            (pid, C.CONTAINER_CREATED_EVENT), (pid, C.CONTAINER_STARTED_EVENT),
            (pid, C.CONTAINER_STOPPED_EVENT), (pid, C.CONTAINER_DELETED_EVENT)]
        after.call.cancel()
    finally:
        stalled.cancel()
        reader.call.cancel()
        channel.close()
