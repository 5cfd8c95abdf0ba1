"""The pod benchmark's driver: crisp and containerd through the same CRI
client (hack/bench/pull/cri.py's Client), in the same process, interleaved.

Subcommands (run.sh calls them; all print to stdout):

    registry --dir D --json F
        runs Debian's docker-registry on 127.0.0.1 (hack/testreg) with two
        images: crisp-test/busybox:latest (the test suite's busybox image) and
        crisp-test/pause:latest (the same layer, Entrypoint ["sleep",
        "2147483647"], Cmd []: containerd's sandbox image); writes
        {"host", "busybox", "pause"} to F, then serves until SIGTERM.
    bench --pb PB --crisp SOCK --containerd SOCK --image REF --pause REF
          --cgroup-parent /NAME --crisp-state DIR --logs DIR --out JSON
          [--runs 50] [--warmup 3] [--mem-containers 50]
        the three measurements (see run.sh); every raw number goes to JSON.
    profile --pb PB --socket SOCK ... --runs N
        N pod-to-running runs against one runtime, printing each step's
        client-side time (run.sh pairs it with crispd's info log).
    cleanup --pb PB --socket SOCK
        best effort: stop and remove every pod (and so container) the
        runtime lists.
    report JSON
        the Markdown table and the raw numbers.
"""

import argparse
import json
import math
import os
import signal
import statistics
import sys
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in hack/bench/pull
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "hack", "bench", "pull"))
sys.path.insert(0, os.path.join(REPO, "hack"))

import cri  # noqa: E402  (hack/bench/pull/cri.py)

RUNTIMES = ("crisp", "containerd")
GOAL_LATENCY = 0.2   # crisp pod-to-running p50 <= 0.2x containerd's
GOAL_OVERHEAD = 0.1  # crisp monitor <= 0.1x containerd shim, per container
SHIM = "containerd-shim-runc-v2"
MONITOR = "crisp-monitor"


# -- CRI ----------------------------------------------------------------------

class Client(cri.Client):
    """cri.Client plus a generic call by method name."""

    IMAGE_METHODS = ("PullImage", "ImageStatus", "ListImages", "RemoveImage",
                     "ImageFsInfo")

    def call(self, name, deadline=120, **fields):
        service = ("ImageService" if name in self.IMAGE_METHODS
                   else "RuntimeService")
        m = self.pb.DESCRIPTOR.services_by_name[service].methods_by_name[name]
        req = getattr(self.pb, m.input_type.name)(**fields)
        return self._call(service, name, req, deadline)


class Runtime:
    """One runtime under test: its client and what the bench needs to know."""

    def __init__(self, name, socket_path, pb, args):
        self.name = name
        self.pb = pb
        self.cli = Client(socket_path, pb)
        self.cli.version(timeout=10)
        self.args = args
        self.socket = socket_path
        self.seq = 0

    def ns(self):
        pb = self.pb
        return pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER,
                                  ipc=pb.POD)

    def pod_config(self, name):
        """A pod on the CNI network run.sh configured for each runtime, as
        the kubelet sends it, with its log dir created beforehand as the
        kubelet does."""
        pb = self.pb
        self.seq += 1
        uid = str(uuid.uuid4())
        logdir = os.path.join(self.args.logs, self.name, "%s_%s" % (name, uid))
        os.makedirs(logdir, exist_ok=True)
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace="podbench",
                                           uid=uid, attempt=0),
            hostname=name,
            log_directory=logdir,
            labels={"podbench": "1"},
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=self.args.cgroup_parent,
                security_context=pb.LinuxSandboxSecurityContext(
                    namespace_options=self.ns())))

    def ctr_config(self, name):
        pb = self.pb
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=self.image_ref),
            command=["sleep", "3600"],
            log_path="%s.log" % name,
            linux=pb.LinuxContainerConfig(
                security_context=pb.LinuxContainerSecurityContext(
                    namespace_options=self.ns())))

    def pull(self, ref):
        t0 = time.perf_counter()
        r = self.cli.call("PullImage", image=self.pb.ImageSpec(image=ref),
                          deadline=300)
        return r.image_ref, time.perf_counter() - t0

    def run_pod(self, name):
        """RunPodSandbox + CreateContainer + StartContainer; returns
        (pod id, container id, {step: seconds}, total seconds)."""
        pcfg = self.pod_config(name)
        ccfg = self.ctr_config("c")
        c = self.cli
        t0 = time.perf_counter()
        pod = c.call("RunPodSandbox", config=pcfg).pod_sandbox_id
        t1 = time.perf_counter()
        cid = c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg,
                     sandbox_config=pcfg).container_id
        t2 = time.perf_counter()
        c.call("StartContainer", container_id=cid)
        t3 = time.perf_counter()
        self.check_running(cid)
        return pod, pcfg, cid, {"run": t1 - t0, "create": t2 - t1,
                                "start": t3 - t2}, t3 - t0

    def second(self, pod, pcfg, name):
        ccfg = self.ctr_config(name)
        c = self.cli
        t0 = time.perf_counter()
        cid = c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg,
                     sandbox_config=pcfg).container_id
        t1 = time.perf_counter()
        c.call("StartContainer", container_id=cid)
        t2 = time.perf_counter()
        self.check_running(cid)
        return cid, {"create": t1 - t0, "start": t2 - t1}, t2 - t0

    def check_running(self, cid):
        st = self.cli.call("ContainerStatus", container_id=cid).status
        if st.state != self.pb.CONTAINER_RUNNING:
            raise SystemExit("%s: container %s is %s after StartContainer "
                             "(exit code %d, reason %r, message %r)" % (
                                 self.name, cid,
                                 self.pb.ContainerState.Name(st.state),
                                 st.exit_code, st.reason, st.message))

    def remove_ctr(self, cid):
        t0 = time.perf_counter()
        self.cli.call("StopContainer", container_id=cid, timeout=0)
        self.cli.call("RemoveContainer", container_id=cid)
        return time.perf_counter() - t0

    def remove_pod(self, pod):
        t0 = time.perf_counter()
        self.cli.call("StopPodSandbox", pod_sandbox_id=pod)
        self.cli.call("RemovePodSandbox", pod_sandbox_id=pod)
        return time.perf_counter() - t0

    def rtt(self, n=200):
        """Version round trips: the client + gRPC floor under every call."""
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.cli.version()
            out.append(time.perf_counter() - t0)
        return out


# -- processes and memory -----------------------------------------------------

def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return [a.decode(errors="replace")
                    for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def monitors(state_dir):
    """crisp-monitor processes of this crispd (their --dir is under its
    state dir)."""
    out = []
    for pid in all_pids():
        a = cmdline(pid)
        if a and os.path.basename(a[0]) == MONITOR and any(
                x.startswith(state_dir + "/") for x in a[1:]):
            out.append(pid)
    return out


def shims(address):
    """containerd-shim-runc-v2 processes serving this containerd (their
    -address is its socket)."""
    out = []
    for pid in all_pids():
        a = cmdline(pid)
        if a and os.path.basename(a[0]) == SHIM and address in a:
            out.append(pid)
    return out


def cgroup_procs(parent, cid):
    """PIDs in the cgroup <parent>/<cid> (pids, memory or v2 hierarchy)."""
    for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory",
                 "/sys/fs/cgroup"):
        p = os.path.join(root + parent, cid, "cgroup.procs")
        try:
            with open(p) as fh:
                return [int(x) for x in fh.read().split()]
        except OSError:
            continue
    return []


def mem(pid):
    """{rss, pss, private} in KiB from smaps_rollup (None if gone)."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as fh:
            f = {}
            for line in fh:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":"):
                    try:
                        f[parts[0][:-1]] = int(parts[1])
                    except ValueError:
                        pass
    except OSError:
        return None
    return {"rss": f.get("Rss", 0), "pss": f.get("Pss", 0),
            "private": f.get("Private_Clean", 0) + f.get("Private_Dirty", 0)}


def mem_sum(pids):
    tot = {"rss": 0, "pss": 0, "private": 0, "n": 0}
    for p in pids:
        m = mem(p)
        if m:
            for k in ("rss", "pss", "private"):
                tot[k] += m[k]
            tot["n"] += 1
    return tot


# -- measurements -------------------------------------------------------------

def log(*a):
    print("pod-bench:", *a, file=sys.stderr, flush=True)


def interleaved(rts, n, fn):
    """fn(rt, i) for i in range(n), both runtimes each round, the first one
    alternating."""
    for i in range(n):
        order = rts if i % 2 == 0 else rts[::-1]
        for rt in order:
            fn(rt, i)


def phase_pod(rts, args, res):
    def one(rt, i):
        warm = i < args.warmup
        pod, _, _, steps, total = rt.run_pod("p1-%d" % i)
        rm = rt.remove_pod(pod)
        r = res[rt.name]
        key = "warmup_pod" if warm else "pod"
        r.setdefault(key, []).append(total)
        if not warm:
            for k, v in steps.items():
                r.setdefault("pod_" + k, []).append(v)
            r.setdefault("pod_teardown", []).append(rm)
    interleaved(rts, args.warmup + args.runs, one)


def phase_second(rts, args, res):
    pods = {}
    for rt in rts:
        pod, pcfg, cid, _, _ = rt.run_pod("p2")
        pods[rt.name] = (pod, pcfg)

    def one(rt, i):
        warm = i < args.warmup
        pod, pcfg = pods[rt.name]
        cid, steps, total = rt.second(pod, pcfg, "second-%d" % i)
        rm = rt.remove_ctr(cid)
        r = res[rt.name]
        r.setdefault("warmup_second" if warm else "second", []).append(total)
        if not warm:
            for k, v in steps.items():
                r.setdefault("second_" + k, []).append(v)
            r.setdefault("second_teardown", []).append(rm)
    interleaved(rts, args.warmup + args.runs, one)
    for rt in rts:
        rt.remove_pod(pods[rt.name][0])


def sample(rt, args, pods):
    """One memory sample of rt with its pods running."""
    if rt.name == "crisp":
        helpers = monitors(args.crisp_state)
        per_pod = []
    else:
        helpers = shims(rt.socket)
        per_pod = [p for pod in pods for p in cgroup_procs(
            args.cgroup_parent, pod)]
    d = mem(rt.pid)
    return {"daemon": d, "helpers": mem_sum(helpers),
            "sandboxes": mem_sum(per_pod)}


def median_sample(samples):
    """Field-wise median of samples (each a dict of dicts of numbers)."""
    out = {}
    for part in samples[0]:
        out[part] = {k: statistics.median(s[part][k] for s in samples)
                     for k in samples[0][part]}
    return out


def phase_memory(rts, args, res):
    n = args.mem_containers
    for rt in rts:
        r = res[rt.name]
        time.sleep(args.settle)
        r["mem_idle"] = median_sample([sample(rt, args, [])
                                       for _ in range(3)])
        pods = []
        t0 = time.perf_counter()
        for i in range(n):
            pod, _, _, _, _ = rt.run_pod("p3-%d" % i)
            pods.append(pod)
        r["mem_start_all"] = time.perf_counter() - t0
        time.sleep(args.settle)
        if args.sync:  # run.sh checks the listeners now
            full = os.path.join(args.sync, rt.name + ".full")
            done = os.path.join(args.sync, rt.name + ".done")
            open(full, "w").close()
            deadline = time.monotonic() + 60
            while not os.path.exists(done) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1)
        samples = []
        for _ in range(args.mem_samples):
            samples.append(sample(rt, args, pods))
            time.sleep(1)
        r["mem_samples"] = samples
        r["mem"] = median_sample(samples)
        listed = rt.cli.call("ListContainers", filter=rt.pb.ContainerFilter(
            state=rt.pb.ContainerStateValue(state=rt.pb.CONTAINER_RUNNING)))
        r["mem_running"] = len(listed.containers)
        log("%s: %d containers running, helpers %d, daemon RSS %d KiB, "
            "helpers RSS %d KiB" % (rt.name, r["mem_running"],
                                    r["mem"]["helpers"]["n"],
                                    r["mem"]["daemon"]["rss"],
                                    r["mem"]["helpers"]["rss"]))
        t0 = time.perf_counter()
        for pod in pods:
            rt.remove_pod(pod)
        r["mem_remove_all"] = time.perf_counter() - t0


def cmd_bench(args):
    pb = cri._pb(args.pb)
    rts = []
    for name, sock, pid in (("crisp", args.crisp, args.crisp_pid),
                            ("containerd", args.containerd,
                             args.containerd_pid)):
        rt = Runtime(name, sock, pb, args)
        rt.pid = pid
        rts.append(rt)
    res = {rt.name: {} for rt in rts}
    meta = {"runs": args.runs, "warmup": args.warmup,
            "mem_containers": args.mem_containers, "image": args.image,
            "pause": args.pause, "cgroup_parent": args.cgroup_parent}
    started = time.time()
    for rt in rts:
        r = res[rt.name]
        r["version"] = rt.cli.version().runtime_version
        rt.image_ref, r["pull_image"] = rt.pull(args.image)
        r["image_ref"] = rt.image_ref
        _, r["pull_pause"] = rt.pull(args.pause)
        r["rtt"] = rt.rtt()
    log("images pulled; pod-to-running, %d+%d runs each" % (args.warmup,
                                                           args.runs))
    phase_pod(rts, args, res)
    log("second container in a running pod, %d+%d runs each" % (
        args.warmup, args.runs))
    phase_second(rts, args, res)
    log("memory with %d running containers" % args.mem_containers)
    phase_memory(rts, args, res)
    meta["seconds"] = time.time() - started
    with open(args.out, "w") as fh:
        json.dump({"meta": meta, "results": res}, fh, indent=1)
    return 0


def cmd_profile(args):
    pb = cri._pb(args.pb)
    rt = Runtime("crisp", args.socket, pb, args)
    rt.image_ref, _ = rt.pull(args.image)
    for i in range(args.runs):
        pod, _, cid, steps, total = rt.run_pod("prof-%d" % i)
        rm = rt.remove_pod(pod)
        print("run %d: pod %.12s container %.12s: total %.1f ms = "
              "RunPodSandbox %.1f + CreateContainer %.1f + StartContainer "
              "%.1f; teardown %.1f ms" % (
                  i, pod, cid, total * 1e3, steps["run"] * 1e3,
                  steps["create"] * 1e3, steps["start"] * 1e3, rm * 1e3))
    return 0


def cmd_cleanup(args):
    pb = cri._pb(args.pb)
    c = Client(args.socket, pb)
    try:
        pods = c.call("ListPodSandbox", deadline=10).items
        for p in pods:
            for name in ("StopPodSandbox", "RemovePodSandbox"):
                try:
                    c.call(name, pod_sandbox_id=p.id, deadline=60)
                except Exception as e:  # best effort
                    print("%s %s: %s" % (name, p.id, e), file=sys.stderr)
        print(len(pods))
    except Exception as e:
        print("cleanup: %s" % e, file=sys.stderr)
        return 1
    finally:
        c.close()
    return 0


# -- registry -----------------------------------------------------------------

def cmd_registry(args):
    from testreg import images
    from testreg.registry import Registry

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    reg = Registry(args.dir)
    try:
        reg.start()
        client = reg.client()
        bb = images._built()["busybox"][0]
        info = images.push_image(client, reg.host, "busybox", bb)
        pause = images.make_image([images.busybox_layer()],
                                  Entrypoint=["sleep", "2147483647"], Cmd=[])
        pinfo = images.push_image(client, reg.host, "pause", pause)
        out = {"host": reg.host, "busybox": info.ref,
               "busybox_id": info.config_digest, "pause": pinfo.ref}
        with open(args.json + ".tmp", "w") as fh:
            json.dump(out, fh)
        os.rename(args.json + ".tmp", args.json)
        while True:
            signal.pause()
    finally:
        reg.stop()


# -- report -------------------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile (p99 of 50 samples is the largest)."""
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def ms(x):
    return "%.1f" % (x * 1e3)


def ratio(a, b):
    return a / b if b else float("nan")


def cmd_report(args):
    with open(args.results) as fh:
        d = json.load(fh)
    meta, res = d["meta"], d["results"]
    c, k = res["crisp"], res["containerd"]
    n = meta["mem_containers"]
    rows = []

    def lat(label, key, p, goal=None):
        a, b = pct(c[key], p), pct(k[key], p)
        r = ratio(a, b)
        g = ""
        if goal is not None:
            g = "<= %.1fx: %s" % (goal, "met" if r <= goal else "**NOT met**")
        rows.append((label, ms(a), ms(b), "%.3fx" % r, g))

    lat("pod-to-running p50 (ms)", "pod", 50, GOAL_LATENCY)
    lat("pod-to-running p99 (ms)", "pod", 99)
    lat("... of which RunPodSandbox p50 (ms)", "pod_run", 50)
    lat("... of which CreateContainer p50 (ms)", "pod_create", 50)
    lat("... of which StartContainer p50 (ms)", "pod_start", 50)
    lat("second container create+start p50 (ms)", "second", 50)
    lat("second container create+start p99 (ms)", "second", 99)
    cm, km = c["mem"], k["mem"]

    def memrow(label, a, b, goal=None, unit=1024.0, fmt="%.1f"):
        r = ratio(a, b)
        g = ""
        if goal is not None:
            g = "<= %.1fx: %s" % (goal, "met" if r <= goal else "**NOT met**")
        rows.append((label, fmt % (a / unit), fmt % (b / unit),
                     "%.3fx" % r, g))

    for kind, name in (("rss", "RSS"), ("pss", "PSS")):
        memrow("per-container overhead %s (KiB): monitor vs shim, /%d" % (
            name, n), cm["helpers"][kind] / n, km["helpers"][kind] / n,
            GOAL_OVERHEAD, unit=1, fmt="%.0f")
    for kind, name in (("rss", "RSS"), ("pss", "PSS")):
        memrow("daemon %s with %d containers (MiB)" % (name, n),
               cm["daemon"][kind], km["daemon"][kind])
    for kind, name in (("rss", "RSS"), ("pss", "PSS")):
        memrow("daemon + monitors/shims %s (MiB)" % name,
               cm["daemon"][kind] + cm["helpers"][kind],
               km["daemon"][kind] + km["helpers"][kind])
    print("| metric | crisp | containerd | ratio crisp/containerd | goal |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print("| %s | %s | %s | %s | %s |" % row)
    print()
    sb = km["sandboxes"]
    print("containerd's sandbox (pause) processes, one per pod, not in the "
          "table (here busybox `sleep`, not the real pause): %d processes, "
          "RSS %.0f KiB, PSS %.0f KiB per pod. crisp runs no process per "
          "pod." % (sb["n"], sb["rss"] / max(1, n), sb["pss"] / max(1, n)))
    print()
    print("raw numbers")
    print()
    print("```")
    for name, r in (("crisp", c), ("containerd", k)):
        print("%s %s: image %s" % (name, r["version"], r["image_ref"]))
        print("  PullImage busybox %.3f s, pause %.3f s; Version RTT p50 "
              "%.2f ms (client + gRPC floor)" % (
                  r["pull_image"], r["pull_pause"],
                  statistics.median(r["rtt"]) * 1e3))
        for key in ("pod", "pod_run", "pod_create", "pod_start",
                    "pod_teardown", "second", "second_create",
                    "second_start", "second_teardown"):
            v = r.get(key, [])
            if v:
                print("  %-16s p50 %7s  p99 %7s  min %7s  max %7s ms" % (
                    key, ms(pct(v, 50)), ms(pct(v, 99)), ms(min(v)),
                    ms(max(v))))
        for key in ("warmup_pod", "pod", "warmup_second", "second"):
            print("  %s (ms, in run order): %s" % (key, " ".join(
                ms(x) for x in r.get(key, []))))
        m = r["mem"]
        print("  memory, median of %d samples with %d running containers "
              "(KiB): daemon rss %d pss %d private %d; helpers (%s) n=%d "
              "rss %d pss %d private %d; sandboxes n=%d rss %d pss %d" % (
                  len(r["mem_samples"]), r["mem_running"], m["daemon"]["rss"],
                  m["daemon"]["pss"], m["daemon"]["private"],
                  MONITOR if name == "crisp" else SHIM, m["helpers"]["n"],
                  m["helpers"]["rss"], m["helpers"]["pss"],
                  m["helpers"]["private"], m["sandboxes"]["n"],
                  m["sandboxes"]["rss"], m["sandboxes"]["pss"]))
        i = r["mem_idle"]["daemon"]
        print("  daemon idle before the %d pods (KiB): rss %d pss %d; "
              "daemon growth per container: rss %.0f KiB, pss %.0f KiB" % (
                  n, i["rss"], i["pss"], (m["daemon"]["rss"] - i["rss"]) / n,
                  (m["daemon"]["pss"] - i["pss"]) / n))
        print("  %d pods started one after another in %.2f s, removed in "
              "%.2f s" % (n, r["mem_start_all"], r["mem_remove_all"]))
    print("```")
    return 0


def cmd_ratio(args):
    with open(args.results) as fh:
        res = json.load(fh)["results"]
    print("%.4f" % ratio(pct(res["crisp"]["pod"], 50),
                         pct(res["containerd"]["pod"], 50)))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="podbench.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("registry")
    g.add_argument("--dir", required=True)
    g.add_argument("--json", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--crisp", required=True)
    b.add_argument("--crisp-pid", type=int, required=True)
    b.add_argument("--containerd", required=True)
    b.add_argument("--containerd-pid", type=int, required=True)
    b.add_argument("--pause", required=True)
    b.add_argument("--crisp-state", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--runs", type=int, default=50)
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--mem-containers", type=int, default=50)
    b.add_argument("--mem-samples", type=int, default=5)
    b.add_argument("--settle", type=float, default=3)
    b.add_argument("--sync", default="", help="dir for run.sh's handshake")
    f = sub.add_parser("profile")
    f.add_argument("--socket", required=True)
    f.add_argument("--runs", type=int, default=5)
    for s in (b, f):
        s.add_argument("--pb", required=True)
        s.add_argument("--image", required=True)
        s.add_argument("--cgroup-parent", required=True)
        s.add_argument("--logs", required=True)
    c = sub.add_parser("cleanup")
    c.add_argument("--pb", required=True)
    c.add_argument("--socket", required=True)
    for name in ("report", "ratio"):
        sub.add_parser(name).add_argument("results")
    args = p.parse_args(argv)
    return {"registry": cmd_registry, "bench": cmd_bench,
            "profile": cmd_profile, "cleanup": cmd_cleanup,
            "report": cmd_report, "ratio": cmd_ratio}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
