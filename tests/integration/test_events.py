"""GetContainerEvents: a full pod lifecycle seen in order by one subscriber
while another never reads; events carry the pod and container statuses."""
import threading
import time

import grpc

from conftest import api_pb2
from test_containers import create, ctr_config, pod_config, wait_state

C = api_pb2


class Subscriber:
    def __init__(self, client, read=True):
        svc, m = client.method("RuntimeService", "GetContainerEvents")
        fn = client.channel.unary_stream(
            "/runtime.v1.RuntimeService/GetContainerEvents",
            request_serializer=C.GetEventsRequest.SerializeToString,
            response_deserializer=C.ContainerEventResponse.FromString)
        self.call = fn(C.GetEventsRequest(), timeout=120)
        self.events = []
        self.error = None
        if read:
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()

    def _read(self):
        try:
            for ev in self.call:
                self.events.append(ev)
        except grpc.RpcError as e:
            self.error = e

    def wait_for(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return [(e.container_id, e.container_event_type) for e in self.events]


def test_full_pod_lifecycle_in_order_with_a_stalled_subscriber(registry, client, crispd):
    image = registry.images["busybox"].ref
    client.call("PullImage", image=C.ImageSpec(image=image), timeout=60)
    reader = Subscriber(client)
    stalled = Subscriber(crispd.client(), read=False)
    time.sleep(0.3)  # both subscribed

    cfg = pod_config(crispd.dir)
    pid = client.call("RunPodSandbox", config=cfg).pod_sandbox_id
    pod = (pid, cfg)
    short = create(client, pod, ctr_config(image, name="short", command=["sh", "-c", "sleep 0.5"]))
    client.call("StartContainer", container_id=short, timeout=30)
    # Nobody asks about "short": its exit must be noticed by crispd itself.
    assert reader.wait_for(5)[-1] == (short, C.CONTAINER_STOPPED_EVENT), reader.wait_for(5)
    long_ = create(client, pod, ctr_config(image, name="long", command=["sleep", "1000"]))
    client.call("StartContainer", container_id=long_, timeout=30)
    client.call("StopContainer", container_id=long_, timeout=0)
    client.call("RemoveContainer", container_id=short)
    client.call("StopPodSandbox", pod_sandbox_id=pid)
    client.call("RemovePodSandbox", pod_sandbox_id=pid)

    want = [
        (pid, C.CONTAINER_CREATED_EVENT), (pid, C.CONTAINER_STARTED_EVENT),
        (short, C.CONTAINER_CREATED_EVENT), (short, C.CONTAINER_STARTED_EVENT),
        (short, C.CONTAINER_STOPPED_EVENT),  # it exited on its own
        (long_, C.CONTAINER_CREATED_EVENT), (long_, C.CONTAINER_STARTED_EVENT),
        (long_, C.CONTAINER_STOPPED_EVENT),
        (short, C.CONTAINER_DELETED_EVENT),
        (pid, C.CONTAINER_STOPPED_EVENT),
        (long_, C.CONTAINER_DELETED_EVENT),  # RemovePodSandbox takes its containers
        (pid, C.CONTAINER_DELETED_EVENT),
    ]
    got = reader.wait_for(len(want))
    # StopPodSandbox stops containers first; "long" is already stopped, so no event
    assert got == want, got
    times = [e.created_at for e in reader.events]
    assert times == sorted(times) and times[0] > 0

    ev = {(e.container_id, e.container_event_type): e for e in reader.events}
    started = ev[(short, C.CONTAINER_STARTED_EVENT)]
    assert started.pod_sandbox_status.id == pid
    assert started.pod_sandbox_status.state == C.SANDBOX_READY
    assert [s.id for s in started.containers_statuses] == [short]
    stopped = ev[(short, C.CONTAINER_STOPPED_EVENT)]
    st = {s.id: s for s in stopped.containers_statuses}[short]
    assert st.state == C.CONTAINER_EXITED and st.exit_code == 0 and st.reason == "Completed"
    deleted = ev[(short, C.CONTAINER_DELETED_EVENT)]
    assert [s.id for s in deleted.containers_statuses] == [long_]
    pod_stopped = ev[(pid, C.CONTAINER_STOPPED_EVENT)]
    assert pod_stopped.pod_sandbox_status.state == C.SANDBOX_NOTREADY
    assert not ev[(pid, C.CONTAINER_DELETED_EVENT)].HasField("pod_sandbox_status")

    # the stalled subscriber blocked nothing; it is still subscribed and then reads in order
    first = next(stalled.call)
    assert (first.container_id, first.container_event_type) == (pid, C.CONTAINER_CREATED_EVENT)
    stalled.call.cancel()
    reader.call.cancel()


def test_pod_status_carries_container_statuses_and_timestamp(registry, client, crispd):
    image = registry.images["busybox"].ref
    client.call("PullImage", image=C.ImageSpec(image=image), timeout=60)
    cfg = pod_config(crispd.dir)
    pid = client.call("RunPodSandbox", config=cfg).pod_sandbox_id
    cid = create(client, (pid, cfg), ctr_config(image, command=["sleep", "1000"]))
    before = time.time_ns()
    resp = client.call("PodSandboxStatus", pod_sandbox_id=pid)
    assert resp.timestamp >= before
    assert [(s.id, s.state) for s in resp.containers_statuses] == [(cid, C.CONTAINER_CREATED)]
    client.call("RemovePodSandbox", pod_sandbox_id=pid, timeout=30)


def test_subscriber_does_not_hold_up_shutdown(crispd_factory, workdir):
    cfg = workdir / "slow-shutdown.json"
    cfg.write_text('{"shutdown_timeout_seconds": 30}')
    d = crispd_factory(config=cfg).start()
    sub = Subscriber(d.client())
    time.sleep(0.3)
    start = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - start < 5  # not the 30 s a stuck call could take
    sub.thread.join(5)
    assert sub.error is not None and sub.error.code() == grpc.StatusCode.UNAVAILABLE
    assert "shutting down" in sub.error.details()
