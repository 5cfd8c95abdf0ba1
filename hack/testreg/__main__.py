"""CLI: run a test registry with the test images until SIGTERM/SIGINT.

    python3 -m testreg serve --dir D [--auth basic|token]
    python3 -m testreg big --dir D --mb 200 [--layers 5] [--cache C]

Prints one JSON line ({"host", "auth", "user", "password", "images"}) once
everything is pushed (and writes it to --json FILE if given), then serves.
"""

import argparse
import json
import os
import signal
import sys

from . import images
from .registry import Registry

USER, PASSWORD = "crisp", "crisp-pass"


def _parse(argv):
    p = argparse.ArgumentParser(prog="python3 -m testreg")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("serve", "big"):
        s = sub.add_parser(name)
        s.add_argument("--dir", required=True, help="parent of the temp dir")
        s.add_argument("--auth", choices=["none", "basic", "token"],
                       default="none")
        s.add_argument("--user", default=USER)
        s.add_argument("--password", default=PASSWORD)
        s.add_argument("--json", help="also write the JSON to this file")
    b = sub.choices["big"]
    b.add_argument("--mb", type=int, default=200)
    b.add_argument("--layers", type=int, default=5)
    b.add_argument("--cache", help="blob cache dir (default ~/.cache/...)")
    return p.parse_args(argv)


def _push(args, reg):
    if args.cmd == "big":
        info = images.big(reg, args.mb, args.layers, args.cache)
        return {"big": info.as_dict()}
    return {k: v.as_dict() for k, v in images.push_all(reg).items()}


def _on_term(signum, frame):
    raise SystemExit(0)


def main(argv=None):
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _on_term)
    os.makedirs(args.dir, exist_ok=True)
    auth = None if args.auth == "none" else (args.auth, args.user,
                                             args.password)
    reg = Registry(args.dir, auth)
    try:
        reg.start()
        out = {"host": reg.host, "auth": args.auth, "user": args.user,
               "password": args.password, "images": _push(args, reg)}
        line = json.dumps(out)
        if args.json:
            with open(args.json + ".tmp", "w") as fh:
                fh.write(line + "\n")
            os.rename(args.json + ".tmp", args.json)
        print(line, flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        reg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
