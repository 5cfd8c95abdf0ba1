#!/usr/bin/env python3
"""ExecSync latency, crisp side by side with containerd + runc (the client side
of hack/bench/exec/run.sh; pods, images and the client are podbench.py's).

Commands:
    bench --pb DIR --crisp SOCK --containerd SOCK --image REF
          --cgroup-parent P --logs DIR --out JSON [--runs N] [--warmup N]
        one pod per runtime on the bench's CNI network with a busybox container running
        `sleep 3600`; then for each command (`true`, `echo hello`) warmup +
        runs ExecSync calls per runtime, interleaved call by call (which
        runtime goes first alternating); every call must exit 0 with the
        expected output.  Pods are removed at the end.
    report JSON
        the Markdown table.
    ratio JSON
        the worst crisp/containerd p50 ratio over the commands.
"""

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pod"))

import podbench  # noqa: E402  (hack/bench/pod/podbench.py: CRI client, pods)
from podbench import cri, interleaved, ms, pct, ratio  # noqa: E402

GOAL = 0.3  # crisp ExecSync p50 <= 0.3x containerd's
COMMANDS = {"true": (["true"], b""), "echo": (["echo", "hello"], b"hello\n")}


def log(*a):
    print("exec-bench:", *a, file=sys.stderr, flush=True)


def exec_once(rt, cid, argv, want):
    t0 = time.perf_counter()
    r = rt.cli.call("ExecSync", container_id=cid, cmd=argv, timeout=10)
    dt = time.perf_counter() - t0
    if r.exit_code != 0 or r.stdout != want:
        raise SystemExit("%s: ExecSync %s: exit code %d, stdout %r, stderr %r" % (
            rt.name, argv, r.exit_code, r.stdout, r.stderr))
    return dt


def cmd_bench(args):
    pb = cri._pb(args.pb)
    rts = [podbench.Runtime("crisp", args.crisp, pb, args),
           podbench.Runtime("containerd", args.containerd, pb, args)]
    res = {rt.name: {} for rt in rts}
    ctrs = {}
    for rt in rts:
        r = res[rt.name]
        r["version"] = rt.cli.version().runtime_version
        rt.image_ref, _ = rt.pull(args.image)
        r["rtt"] = rt.rtt()
        pod, _, cid, _, _ = rt.run_pod("exec")
        ctrs[rt.name] = (pod, cid)
    try:
        for name, (argv, want) in COMMANDS.items():
            log("ExecSync %s: %d+%d calls per runtime" % (argv, args.warmup, args.runs))

            def one(rt, i, name=name, argv=argv, want=want):
                dt = exec_once(rt, ctrs[rt.name][1], argv, want)
                key = ("warmup_" if i < args.warmup else "") + name
                res[rt.name].setdefault(key, []).append(dt)
            interleaved(rts, args.warmup + args.runs, one)
    finally:
        for rt in rts:
            rt.remove_pod(ctrs[rt.name][0])
    with open(args.out, "w") as fh:
        json.dump({"meta": {"runs": args.runs, "warmup": args.warmup,
                            "image": args.image}, "results": res}, fh, indent=1)
    return 0


def worst_ratio(res):
    c, k = res["crisp"], res["containerd"]
    return max(ratio(pct(c[n], 50), pct(k[n], 50)) for n in COMMANDS)


def cmd_report(args):
    with open(args.results) as fh:
        d = json.load(fh)
    meta, res = d["meta"], d["results"]
    c, k = res["crisp"], res["containerd"]
    print("| ExecSync (%d calls each, after %d warm-up) | crisp p50 | crisp p99 | "
          "containerd p50 | containerd p99 | crisp/containerd p50 | goal |" % (
              meta["runs"], meta["warmup"]))
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, (argv, _) in COMMANDS.items():
        r = ratio(pct(c[name], 50), pct(k[name], 50))
        print("| `%s` (ms) | %s | %s | %s | %s | %.2fx | <= %.1fx %s |" % (
            " ".join(argv), ms(pct(c[name], 50)), ms(pct(c[name], 99)),
            ms(pct(k[name], 50)), ms(pct(k[name], 99)), r, GOAL,
            "met" if r <= GOAL else "MISSED"))
    print("| Version round trip, the client + gRPC floor (ms) | %s | %s | %s | %s | | |" % (
        ms(pct(c["rtt"], 50)), ms(pct(c["rtt"], 99)),
        ms(pct(k["rtt"], 50)), ms(pct(k["rtt"], 99))))
    print()
    print("versions: crisp %s, containerd %s" % (c["version"], k["version"]))
    return 0


def cmd_ratio(args):
    with open(args.results) as fh:
        print("%.3f" % worst_ratio(json.load(fh)["results"]))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="execbench.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    for opt in ("--pb", "--crisp", "--containerd", "--image", "--cgroup-parent",
                "--logs", "--out"):
        b.add_argument(opt, required=True)
    b.add_argument("--runs", type=int, default=200)
    b.add_argument("--warmup", type=int, default=10)
    for name in ("report", "ratio"):
        sub.add_parser(name).add_argument("results")
    args = p.parse_args(argv)
    return {"bench": cmd_bench, "report": cmd_report, "ratio": cmd_ratio}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
