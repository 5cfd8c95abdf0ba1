"""crispd's command line and configuration files."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import CRISPD


def run(*args, timeout=10):
    return subprocess.run([CRISPD, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_version_flag():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("crispd 0.1.0")


def test_help_flag_documents_every_flag():
    r = run("--help")
    assert r.returncode == 0
    for flag in ("--config", "--listen", "--root", "--state", "--log-level", "--version",
                 "config"):
        assert flag in r.stdout


def test_unknown_flag_exits_2():
    r = run("--bogus")
    assert r.returncode == 2


def test_unknown_command_exits_2():
    r = run("serve-please")
    assert r.returncode == 2
    assert "serve-please" in r.stderr


def test_config_command_merges_file_dropins_and_flags(workdir):
    main = workdir / "crisp.json"
    main.write_text(json.dumps({"workers": 4, "log_level": "warn", "root": "/srv/a"}))
    dropins = workdir / "crisp.d"
    dropins.mkdir()
    (dropins / "10-first.json").write_text('{"workers": 5, "state": "/srv/state1"}')
    (dropins / "20-second.json").write_text('{"workers": 6}')
    (dropins / "README").write_text("not json, ignored")
    r = run("--config", str(main), "--root", "/srv/b", "config")
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)
    assert cfg["workers"] == 6
    assert cfg["log_level"] == "warn"
    assert cfg["state"] == "/srv/state1"
    assert cfg["root"] == "/srv/b"
    assert cfg["listen"] == "/run/crisp/crisp.sock"


def test_bad_config_unknown_key_exits_2_naming_file_and_key(workdir):
    main = workdir / "crisp.json"
    main.write_text('{"workers": 4, "wrokers": 5}')
    r = run("--config", str(main), "config")
    assert r.returncode == 2
    assert f"{main}: wrokers: unknown key" in r.stderr


def test_bad_config_wrong_type_exits_2_naming_file_key_and_expectation(workdir):
    main = workdir / "crisp.json"
    main.write_text('{"workers": "many"}')
    r = run("--config", str(main))
    assert r.returncode == 2
    assert f"{main}: workers: expected an integer" in r.stderr


def test_bad_dropin_is_named(workdir):
    main = workdir / "crisp.json"
    main.write_text("{}")
    (workdir / "crisp.d").mkdir()
    bad = workdir / "crisp.d" / "50-bad.json"
    bad.write_text('{"cgroup_driver": "upstart"}')
    r = run("--config", str(main))
    assert r.returncode == 2
    assert f"{bad}: cgroup_driver: expected one of" in r.stderr


def test_invalid_json_exits_2_with_position(workdir):
    main = workdir / "crisp.json"
    main.write_text('{"workers": 4,,}')
    r = run("--config", str(main))
    assert r.returncode == 2
    assert str(main) in r.stderr and "line 1" in r.stderr


def test_missing_explicit_config_exits_2(workdir):
    r = run("--config", str(workdir / "nope.json"))
    assert r.returncode == 2
    assert "nope.json" in r.stderr


def test_bad_flag_value_exits_2(workdir):
    (workdir / "x.json").write_text("{}")
    r = run("--config", str(workdir / "x.json"), "--log-level", "loud", "config")
    assert r.returncode == 2
    assert "log_level" in r.stderr
    r = run("--listen", "relative.sock", "config")
    assert r.returncode == 2
    assert "absolute path" in r.stderr


MONITOR = str(Path(CRISPD).with_name("crisp-monitor"))


def test_monitor_placeholder_lives_only_with_its_parent():
    """`crisp-monitor --placeholder PPID` (the first process of a systemd scope) refuses to run
    under another parent, waits while its parent lives and dies with it."""
    assert subprocess.run([MONITOR, "--placeholder", "1"], timeout=10).returncode == 1
    parent = subprocess.Popen(
        [sys.executable, "-c", "import os, subprocess, sys, time\n"
         f"p = subprocess.Popen([{MONITOR!r}, '--placeholder', str(os.getpid())])\n"
         "print(p.pid, flush=True)\n"
         "time.sleep(0.5)\n"
         "assert p.poll() is None\n"
         "os._exit(0)\n"], stdout=subprocess.PIPE, text=True)
    holder = int(parent.stdout.readline())
    assert parent.wait(timeout=10) == 0  # the placeholder was still there after 0.5 s
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{holder}") and time.monotonic() < deadline:
        try:  # gone, or a zombie that init has not reaped yet
            if open(f"/proc/{holder}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        except OSError:
            break
        time.sleep(0.05)
    assert time.monotonic() < deadline, "the placeholder outlived its parent"
