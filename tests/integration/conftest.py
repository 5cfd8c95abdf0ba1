"""Integration fixtures: a real crispd on a temporary socket and state dir,
and a CRI client built from proto/api.proto at test time."""
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import pytest

REPO = Path(__file__).resolve().parents[2]
CRISPD = os.environ.get("CRISPD", str(REPO / "build" / "crispd"))
sys.path.insert(0, str(REPO / "hack"))  # the testreg fixtures


def _generate_stubs():
    out = Path(tempfile.mkdtemp(prefix="crisp-pb2-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)  # the module stays imported
    subprocess.run(
        ["protoc", f"--python_out={out}", f"-I{REPO / 'proto'}", str(REPO / "proto" / "api.proto")],
        check=True,
    )
    sys.path.insert(0, str(out))
    import api_pb2  # noqa: E402  (generated just above)

    return api_pb2


api_pb2 = _generate_stubs()


class Client:
    """Calls any CRI method by name with the generated message classes."""

    def __init__(self, socket_path):
        self.channel = grpc.insecure_channel(f"unix://{socket_path}")

    def method(self, service, name):
        svc = api_pb2.DESCRIPTOR.services_by_name[service]
        m = svc.methods_by_name[name]
        return svc, m

    def call(self, name, request=None, timeout=5, service=None, **fields):
        service = service or ("ImageService" if name in IMAGE_METHODS else "RuntimeService")
        _, m = self.method(service, name)
        req_cls = getattr(api_pb2, m.input_type.name)
        resp_cls = getattr(api_pb2, m.output_type.name)
        if request is None and "timeout" in req_cls.DESCRIPTOR.fields_by_name:
            # StopContainer and ExecSync have a timeout field of their own
            fields["timeout"], timeout = timeout, max(60, timeout * 3)
        request = request if request is not None else req_cls(**fields)
        path = f"/runtime.v1.{service}/{name}"
        if m.server_streaming:
            fn = self.channel.unary_stream(path, request_serializer=req_cls.SerializeToString,
                                           response_deserializer=resp_cls.FromString)
            return list(fn(request, timeout=timeout))
        fn = self.channel.unary_unary(path, request_serializer=req_cls.SerializeToString,
                                      response_deserializer=resp_cls.FromString)
        return fn(request, timeout=timeout)

    def raw(self, path, payload, timeout=5):
        """Sends bytes as they are to any method path; returns the raw reply."""
        fn = self.channel.unary_unary(path, request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)
        return fn(payload, timeout=timeout)

    def close(self):
        self.channel.close()


IMAGE_METHODS = {m.name for m in api_pb2.DESCRIPTOR.services_by_name["ImageService"].methods}


class Crispd:
    """One crispd process with its own socket, root and state dirs."""

    def __init__(self, workdir, extra_args=(), config=None):
        self.dir = Path(workdir)
        self.socket = self.dir / "crisp.sock"
        self.root = self.dir / "root"
        self.state = self.dir / "state"
        self.config = config
        self.extra_args = list(extra_args)
        self.proc = None
        self.stderr_path = self.dir / "crispd.log"
        # CNI: by default a loopback-only network of this crispd's own (cheap, no bridge);
        # network tests point cni_conf_dir at their own dir (or at an empty one).
        self.cni_conf_dir = self.dir / "cni"
        self.cni_settings = {}  # more CNI keys (cni_bin_dirs, cni_plugin_timeout_seconds)

    def args(self):
        a = [CRISPD, "--listen", str(self.socket), "--root", str(self.root),
             "--state", str(self.state), "--log-level", "debug"]
        a += ["--config", str(self.config)] if self.config else ["--config", str(self.dir / "none.json")]
        return a + self.extra_args

    def write_cni_dropin(self):
        """The CNI keys go into a drop-in next to the main config file, so tests that
        write their own crisp.json keep the per-test network config."""
        if self.cni_conf_dir == self.dir / "cni" and not self.cni_conf_dir.exists():
            self.cni_conf_dir.mkdir()
            (self.cni_conf_dir / "99-loopback.conflist").write_text(json.dumps(
                {"cniVersion": "1.0.0", "name": "crisp-test-lo", "plugins": [{"type": "loopback"}]}))
        main = Path(self.config) if self.config else self.dir / "none.json"
        dropins = main.with_suffix(".d")
        dropins.mkdir(exist_ok=True)
        keys = {"cni_conf_dir": str(self.cni_conf_dir), **self.cni_settings}
        (dropins / "00-test-cni.json").write_text(json.dumps(keys))

    def start(self, wait=True):
        if not self.config:
            (self.dir / "none.json").write_text("{}")
        self.write_cni_dropin()
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"crispd exited with {self.proc.returncode}:\n{self.log()}")
            if self.socket.exists():
                try:
                    c = Client(self.socket)
                    c.call("Version", timeout=1)
                    c.close()
                    return
                except grpc.RpcError:
                    pass
            time.sleep(0.02)
        raise RuntimeError(f"crispd not ready after {timeout}s:\n{self.log()}")

    def client(self):
        return Client(self.socket)

    def log(self):
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops crispd; returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self._stderr.close()


def unmount_under(path):
    """Lazily unmounts everything mounted below path, deepest first."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p.startswith(str(path) + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], check=False)


def sanitizer_report(log):
    """Lines that show an ASan/UBSan/LSan finding in crispd's stderr."""
    markers = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
    return [line for line in log.splitlines() if any(m in line for m in markers)]


TEST_CGROUP_PARENT = f"crisp-test-{os.getpid()}"
# Every test's workdir starts with this, so the leftover check sees only this run's.
WORKDIR_PREFIX = f"crisp-it-{os.getpid()}-"


def _test_cgroup_dirs():
    import glob
    return glob.glob(f"/sys/fs/cgroup/*/{TEST_CGROUP_PARENT}") + \
        glob.glob(f"/sys/fs/cgroup/{TEST_CGROUP_PARENT}")


def _leftover_processes():
    """Monitors of the tests' crispds and processes in the tests' cgroups."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry}/cgroup") as f:
                cgroups = f.read()
            with open(f"/proc/{entry}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        monitor = cmdline.startswith("crisp-monitor") and f"/{WORKDIR_PREFIX}" in cmdline
        if not zombie and (monitor or f"/{TEST_CGROUP_PARENT}/" in cgroups):
            found[int(entry)] = cmdline
    return found


def _leftover_mounts():
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if f"/{WORKDIR_PREFIX}" in line.split()[4]]


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """After the suite no process, mount or cgroup of the tests is left: what is
    found is cleaned up, and the suite fails naming it. The tests' pods use
    cgroup_parent crisp-test-<pid>; crispd creates it like a kubelet would. Pods
    without one use crispd's default parent "crisp": removed too, when this run
    made it and it is empty (a concurrent run or a real crispd may be using it)."""
    import glob
    default_parents = set(glob.glob("/sys/fs/cgroup/*/crisp") + glob.glob("/sys/fs/cgroup/crisp"))
    yield
    for top in set(glob.glob("/sys/fs/cgroup/*/crisp") + glob.glob("/sys/fs/cgroup/crisp")) - \
            default_parents:
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    procs = _leftover_processes()
    for pid in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    mounts = _leftover_mounts()
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], check=False)
    time.sleep(0.2 if procs else 0)
    cgroups = []
    for top in _test_cgroup_dirs():
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            if dirpath != top:
                cgroups.append(dirpath)
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    assert not procs and not mounts and not cgroups, (
        f"the tests left behind processes {procs}, mounts {mounts}, cgroups {cgroups}")


@pytest.fixture(scope="session")
def registry():
    """A real local registry (Debian's docker-registry) with every test image."""
    from testreg import images
    from testreg.registry import Registry
    with tempfile.TemporaryDirectory(prefix="crisp-reg-") as d:
        with Registry(d) as reg:
            reg.images = images.push_all(reg)
            yield reg


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix=WORKDIR_PREFIX) as d:
        yield Path(d)


@pytest.fixture
def crispd_factory(workdir):
    """Starts crispd instances in sub-dirs of one temp dir; stops them all after the test
    and fails the test on any sanitizer finding."""
    started = []

    def make(name="d", **kw):
        sub = workdir / name
        sub.mkdir(exist_ok=True)
        d = Crispd(sub, **kw)
        started.append(d)
        return d

    yield make
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
    unmount_under(workdir)  # pinned pod namespaces outlive crispd by design
    for d in started:
        found = sanitizer_report(d.log())
        assert not found, f"sanitizer findings in crispd:\n{d.log()}"


@pytest.fixture
def crispd(crispd_factory):
    return crispd_factory().start()


@pytest.fixture
def client(crispd):
    c = crispd.client()
    yield c
    c.close()
