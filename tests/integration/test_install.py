"""Node install: `make install`, the systemd unit, the DaemonSet installer and
its image, the Kubernetes manifests, and `crispd check`.

The installer runs for real against a temporary host root; only the two ways
it reaches the node are replaced: CRISP_SYSTEMCTL by a fake systemctl that
records its calls and keeps a little unit state, CRISP_HOST_EXEC by a
command that runs a host path under the temporary root."""
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from conftest import CRISPD

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTALLER_DIR = DEPLOY / "kubernetes" / "installer"
SANITIZED = os.environ.get("CRISP_SANITIZE") == "1"
REQUIRED_UNIT = {
    "Type": "notify",
    "Delegate": "yes",
    "KillMode": "process",
    "Restart": "on-failure",
    "LimitNOFILE": "1048576",
    "OOMScoreAdjust": "-999",
}


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree(root):
    """Every file and symlink below root, as relative paths."""
    root = Path(root)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def build_dir():
    """The build directory CRISPD lives in, relative to the repo (make's BUILD)."""
    d = Path(CRISPD).resolve().parent
    try:
        return str(d.relative_to(REPO))
    except ValueError:
        pytest.skip(f"CRISPD {CRISPD} is not in a build directory of this repo")


def make_install(destdir, *args, target="install"):
    """Runs `make install` with the already built binaries (-o all: nothing is rebuilt)."""
    cmd = ["make", "-s", "-C", str(REPO), "-o", "all", target, f"DESTDIR={destdir}",
           f"BUILD={build_dir()}", *args]
    if SANITIZED:
        cmd.append("SANITIZE=1")
    # a make that runs the tests must not hand its flags or jobserver down
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def parse_unit(text):
    """systemd unit text -> {section: {key: [values]}}."""
    sections, cur = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            cur = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        cur.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def installed():
    """One `make install DESTDIR=<tmp>` tree shared by the tests that only read it."""
    dest = Path(tempfile.mkdtemp(prefix="crisp-destdir-"))
    make_install(dest)
    yield dest
    shutil.rmtree(dest, ignore_errors=True)


# ---- make install -----------------------------------------------------------


def test_make_install_lays_out_the_tree(installed):
    build = REPO / build_dir()
    expected = {
        "usr/local/bin/crispd",
        "etc/crisp/crisp.json",
        "lib/systemd/system/crisp.service",
        "usr/local/share/man/man8/crispd.8",
    }
    if (build / "crisp-monitor").exists():
        expected.add("usr/local/bin/crisp-monitor")
    conflists = sorted((DEPLOY / "cni").glob("*.conflist"))
    expected |= {f"etc/cni/net.d/{c.name}" for c in conflists}
    assert tree(installed) == expected

    crispd = installed / "usr/local/bin/crispd"
    assert crispd.stat().st_mode & 0o777 == 0o755
    assert sha(crispd) == sha(CRISPD)
    if (build / "crisp-monitor").exists():
        assert sha(installed / "usr/local/bin/crisp-monitor") == sha(build / "crisp-monitor")
    for rel, src in [("etc/crisp/crisp.json", DEPLOY / "crisp.json")] + [
            (f"etc/cni/net.d/{c.name}", c) for c in conflists]:
        assert (installed / rel).read_bytes() == src.read_bytes()
        assert (installed / rel).stat().st_mode & 0o777 == 0o644
    unit = parse_unit((installed / "lib/systemd/system/crisp.service").read_text())
    assert unit["Service"]["ExecStart"] == ["/usr/local/bin/crispd"]
    r = subprocess.run([str(crispd), "--version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("crispd ")


def test_make_install_follows_prefix_keeps_config_and_uninstalls(workdir):
    (workdir / "etc/crisp").mkdir(parents=True)
    (workdir / "etc/crisp/crisp.json").write_text('{"workers": 4}\n')  # the node's own
    make_install(workdir, "PREFIX=/usr", "SYSTEMDUNITDIR=/usr/lib/systemd/system")
    assert (workdir / "usr/bin/crispd").exists()
    assert (workdir / "usr/share/man/man8/crispd.8").exists()
    unit = parse_unit((workdir / "usr/lib/systemd/system/crisp.service").read_text())
    assert unit["Service"]["ExecStart"] == ["/usr/bin/crispd"]
    assert (workdir / "etc/crisp/crisp.json").read_text() == '{"workers": 4}\n'

    make_install(workdir, "PREFIX=/usr", "SYSTEMDUNITDIR=/usr/lib/systemd/system",
                 target="uninstall")
    assert tree(workdir) == {"etc/crisp/crisp.json"}


def test_man_page_documents_every_command_and_flag(installed):
    page = (installed / "usr/local/share/man/man8/crispd.8").read_text()
    text = page.replace("\\-", "-")
    help_text = subprocess.run([CRISPD, "--help"], capture_output=True, text=True).stdout
    for flag in set(re.findall(r"--[a-z][a-z-]+", help_text)):
        assert flag in text, f"{flag} from --help is not in the man page"
    for command in ("config", "check"):
        assert f".B {command}" in page
    r = subprocess.run(["man", "--warnings", "-l", "-"], input=page, capture_output=True,
                       text=True, env={**os.environ, "MANWIDTH": "80"}, timeout=30)
    assert r.returncode == 0 and "crispd" in r.stdout, r.stderr
    assert "warning" not in r.stderr


# ---- the systemd unit -------------------------------------------------------


def test_unit_has_the_required_settings():
    unit = parse_unit((DEPLOY / "systemd/crisp.service").read_text())
    service = unit["Service"]
    for key, value in REQUIRED_UNIT.items():
        assert service.get(key) == [value], f"{key}={service.get(key)}"
    assert service["ExecStart"] == ["/usr/local/bin/crispd"]
    after = " ".join(unit["Unit"]["After"]).split()
    wants = " ".join(unit["Unit"]["Wants"]).split()
    assert "network-online.target" in after and "network-online.target" in wants
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_unit_passes_systemd_analyze_verify(installed, workdir):
    """Verified inside the installed tree (--root): the ExecStart binary and the
    man page of Documentation= are the installed ones. The units the unit
    refers to (network-online.target, multi-user.target) come from the host."""
    root = workdir / "root"
    shutil.copytree(installed, root, symlinks=True)
    units = root / "lib/systemd/system"
    for u in Path("/lib/systemd/system").iterdir():
        if u.name != "crisp.service" and not (units / u.name).exists():
            if u.is_symlink():
                (units / u.name).symlink_to(os.readlink(u))
            elif u.is_file():
                shutil.copy2(u, units / u.name)
    env = {**os.environ, "MANPATH": str(root / "usr/local/share/man")}

    def verify():
        return subprocess.run(["systemd-analyze", "verify", f"--root={root}", "crisp.service"],
                              capture_output=True, text=True, env=env, timeout=60)

    r = verify()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "crisp.service" not in r.stdout + r.stderr, r.stdout + r.stderr
    # the verification is real: without its binary the same unit fails
    (root / "usr/local/bin/crispd").unlink()
    r = verify()
    assert r.returncode != 0 and "crispd" in r.stderr, r.stdout + r.stderr


# ---- the installer image ----------------------------------------------------


def dockerfile_instructions(path):
    """(instruction, arguments) pairs: comments dropped, continuations joined."""
    out, cur = [], ""
    for line in Path(path).read_text().splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    assert not cur, "Dockerfile ends inside a continued line"
    return out


def stages(instructions):
    """[(name, base, [(instruction, args)])] per FROM."""
    result = []
    for ins, args in instructions:
        if ins == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append((name, words[0], []))
        else:
            assert result, f"{ins} before FROM"
            result[-1][2].append((ins, args))
    return result


def copy_args(args):
    flags = {}
    words = shlex.split(args)
    while words[0].startswith("--"):
        k, _, v = words.pop(0)[2:].partition("=")
        flags[k] = v
    return flags, words[:-1], words[-1]


def test_dockerfile_is_a_sane_multi_stage_build():
    ins = dockerfile_instructions(INSTALLER_DIR / "Dockerfile")
    known = {"FROM", "RUN", "COPY", "WORKDIR", "USER", "ENTRYPOINT", "CMD", "ENV", "ARG",
             "LABEL"}
    assert {i for i, _ in ins} <= known
    st = stages(ins)
    assert len(st) >= 2
    build_name, build_base, build = st[0]
    assert build_base == "debian:12" and build_name
    runs = " ".join(a for i, a in build if i == "RUN")
    assert "install-deps" in runs and "make" in runs and "make install DESTDIR=" in runs
    assert ("USER", "builder") in build  # make runs unprivileged
    final_name, final_base, final = st[-1]
    assert final_base.startswith("debian:12")
    users = [a for i, a in final if i == "USER"]
    assert users and not users[-1].startswith(("0", "root")), "the image's user must not be root"
    for i, a in final:
        if i == "COPY":
            flags, srcs, _ = copy_args(a)
            if "from" in flags:
                assert flags["from"] == build_name
            else:
                for s in srcs:
                    assert (REPO / s).exists(), f"COPY source {s} is not in the repo"
    ignore = (INSTALLER_DIR / "Dockerfile.dockerignore").read_text().split()
    assert "build" in ignore and ".git" in ignore


def exec_form(args):
    return yaml.safe_load(args)  # a JSON array is YAML too


@pytest.fixture
def image(installed, workdir):
    """The installer image's file system, made by carrying out the final stage's
    COPY instructions of the Dockerfile: build-stage paths (/out, the DESTDIR
    of its `make install`) map to the `make install` tree, others to the repo."""
    _, _, final = stages(dockerfile_instructions(INSTALLER_DIR / "Dockerfile"))[-1]
    out = workdir / "build-out"
    shutil.copytree(installed, out, symlinks=True)
    (out / "etc/cni/net.d").mkdir(parents=True, exist_ok=True)  # the build stage's mkdir -p
    img = workdir / "image"
    for ins, args in final:
        if ins != "COPY":
            continue
        flags, srcs, dest = copy_args(args)
        for s in srcs:
            src = (out / s.removeprefix("/out/")) if "from" in flags else REPO / s
            target = img / dest.lstrip("/")
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True)
            else:
                if dest.endswith("/"):
                    target = target / src.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
            if "chmod" in flags:
                os.chmod(target, int(flags["chmod"], 8))
    entry = [exec_form(a) for i, a in final if i == "ENTRYPOINT"][-1]
    return {"root": img, "entrypoint": img / entry[0].lstrip("/"),
            "payload": (img / entry[0].lstrip("/")).parent,
            "cmd": [exec_form(a) for i, a in final if i == "CMD"][-1]}


def test_installer_script_is_posix_sh_and_shellcheck_clean():
    script = INSTALLER_DIR / "install.sh"
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/bin/sh\n")  # debian:12-slim's dash runs it
    subprocess.run(["dash", "-n", str(script)], check=True)
    r = subprocess.run(["shellcheck", "-s", "sh", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


# ---- the installer, against a temporary host root -----------------------------

FAKE_SYSTEMCTL = r"""#!/bin/sh
# A fake systemctl: records each call, keeps enabled/active/loaded state and
# checks what the real one would (the unit file exists, its binary too, the
# unit was reloaded after it changed).
d=$(dirname "$0")/systemd
mkdir -p "$d"
echo "$*" >>"$d/calls"
unit_file() { echo "$CRISP_HOST_ROOT/etc/systemd/system/$1"; }
loaded_ok() { [ "$(sha256sum <"$(unit_file "$1")")" = "$(cat "$d/loaded" 2>/dev/null)" ]; }
cmd=$1; shift
[ "$1" = --quiet ] && shift
case "$cmd" in
daemon-reload)
  f=$(unit_file crisp.service)
  if [ -f "$f" ]; then sha256sum <"$f" >"$d/loaded"; else rm -f "$d/loaded"; fi ;;
is-enabled) [ -e "$d/enabled" ] ;;
is-active) [ -e "$d/active" ] ;;
enable) [ -f "$(unit_file "$1")" ] || { echo "Unit file $1 does not exist." >&2; exit 1; }
  touch "$d/enabled" ;;
disable) rm -f "$d/enabled" ;;
start|restart)
  loaded_ok "$1" || { echo "Unit $1 not loaded or changed on disk without daemon-reload" >&2; exit 1; }
  exe=$(sed -n 's/^ExecStart=//p' "$(unit_file "$1")" | cut -d' ' -f1)
  [ -x "$CRISP_HOST_ROOT$exe" ] || { echo "$exe is not executable" >&2; exit 203; }
  touch "$d/active" ;;
stop) rm -f "$d/active" ;;
show)
  if [ -f "$d/killmode" ]; then cat "$d/killmode"
  else sed -n 's/^KillMode=//p' "$(unit_file "$3")"; fi ;;
*) echo "fake systemctl: unexpected $cmd" >&2; exit 1 ;;
esac
"""

FAKE_HOST_EXEC = r"""#!/bin/sh
# Runs a node path under the temporary host root; arguments that are node
# paths existing there are mapped too.
echo "$*" >>"$(dirname "$0")/host-exec.calls"
prog=$CRISP_HOST_ROOT$1; shift
for a in "$@"; do
  case "$a" in /*) [ -e "$CRISP_HOST_ROOT$a" ] && a=$CRISP_HOST_ROOT$a ;; esac
  set -- "$@" "$a"; shift
done
exec "$prog" "$@"
"""


class Node:
    """A temporary host root, the fakes, and the installer to run against them."""

    def __init__(self, base, image):
        self.base = Path(base)
        self.host = self.base / "host"
        self.host.mkdir()
        (self.host / "etc/systemd/system").mkdir(parents=True)
        self.proc = self.base / "proc"
        self.proc.mkdir()
        self.image = image
        self.payload = image["payload"]
        self.fakes = self.base / "fakes"
        self.fakes.mkdir()
        for name, text in (("systemctl", FAKE_SYSTEMCTL), ("host-exec", FAKE_HOST_EXEC)):
            (self.fakes / name).write_text(text)
            (self.fakes / name).chmod(0o755)
        self.state = self.fakes / "systemd"
        self.run_count = 0

    def run(self, *args, env=None, check=True):
        e = {"PATH": os.environ["PATH"], "CRISP_HOST_ROOT": str(self.host),
             "CRISP_SYSTEMCTL": str(self.fakes / "systemctl"),
             "CRISP_HOST_EXEC": str(self.fakes / "host-exec"), "CRISP_PROC": str(self.proc),
             **(env or {})}
        for f in (self.state / "calls", self.fakes / "host-exec.calls"):
            f.unlink(missing_ok=True)
        r = subprocess.run([str(self.image["entrypoint"]), *args], capture_output=True,
                           text=True, env=e, timeout=60)
        self.run_count += 1
        if check:
            assert r.returncode == 0, f"install.sh {args} failed:\n{r.stderr}"
        return r

    def calls(self):
        f = self.state / "calls"
        return f.read_text().splitlines() if f.exists() else []

    def host_exec_calls(self):
        f = self.fakes / "host-exec.calls"
        return f.read_text().splitlines() if f.exists() else []

    def state_has(self, name):
        return (self.state / name).exists()

    def snapshot(self):
        """(inode, mtime, sha) of every file on the node."""
        return {p: ((self.host / p).stat().st_ino, (self.host / p).stat().st_mtime_ns,
                    sha(self.host / p)) for p in tree(self.host) if not p.endswith("/lock")}


@pytest.fixture
def node(workdir, image):
    return Node(workdir, image)


def mutating(calls):
    return [c for c in calls if not c.startswith(("is-active", "is-enabled", "show"))]


def test_installer_installs_then_reinstall_changes_nothing(node):
    r = node.run("install")
    host, payload = node.host, node.payload
    assert sha(host / "usr/local/bin/crispd") == sha(payload / "bin/crispd")
    assert (host / "usr/local/bin/crispd").stat().st_mode & 0o777 == 0o755
    for b in payload.glob("bin/*"):
        assert sha(host / "usr/local/bin" / b.name) == sha(b)
    assert (host / "etc/crisp/crisp.json").read_bytes() == (DEPLOY / "crisp.json").read_bytes()
    unit = host / "etc/systemd/system/crisp.service"
    assert unit.read_bytes() == (DEPLOY / "systemd/crisp.service").read_bytes()
    for c in payload.glob("cni/*.conflist"):
        assert sha(host / "etc/cni/net.d" / c.name) == sha(c)
    assert mutating(node.calls()) == ["daemon-reload", "enable crisp.service",
                                      "restart crisp.service"]
    assert node.state_has("enabled") and node.state_has("active")
    # the new crispd was tried on the node, with the new config, before it went in
    assert len(node.host_exec_calls()) == 1
    assert re.fullmatch(r"/usr/local/bin/\.crispd\.crisp-try --config "
                        r"/etc/crisp/\.installer/staged/crisp\.json config",
                        node.host_exec_calls()[0])
    assert not (host / "usr/local/bin/.crispd.crisp-try").exists()
    assert not (host / "var/lib/crisp").exists()  # never touched by the installer
    assert "installed" in r.stderr

    before = node.snapshot()
    r = node.run("install")
    assert mutating(node.calls()) == [], node.calls()  # no restart, reload or enable
    assert node.host_exec_calls() == []
    assert node.snapshot() == before  # not one file rewritten
    assert "up to date" in r.stderr


def test_installer_starts_a_stopped_unit_without_rewriting(node):
    node.run("install")
    (node.state / "active").unlink()  # crispd stopped or failed meanwhile
    node.run("install")
    assert mutating(node.calls()) == ["start crisp.service"]


def test_installer_upgrade_replaces_the_binary_under_a_running_crispd(node, crispd_factory):
    node.run("install")
    installed_crispd = node.host / "usr/local/bin/crispd"
    old_inode = installed_crispd.stat().st_ino
    # the node's crispd is running from the installed file while the upgrade happens
    running = crispd_factory("running")
    running.args = lambda: [str(installed_crispd), "--listen", str(running.socket), "--root",
                            str(running.root), "--state", str(running.state), "--config",
                            str(running.dir / "none.json")]
    running.start()

    new = node.payload / "bin/crispd"
    with open(new, "ab") as f:  # a different build: same program, other bytes
        f.write(b"\0crisp-upgrade-test")
    node.run("install")
    assert sha(installed_crispd) == sha(new)
    assert installed_crispd.stat().st_ino != old_inode  # renamed into place, not rewritten
    assert mutating(node.calls()) == ["restart crisp.service"]  # the unit did not change
    assert running.proc.poll() is None  # the running crispd was left alone ...
    c = running.client()
    assert c.call("Version").runtime_name  # ... and still serves
    c.close()


def test_installer_reloads_systemd_when_the_unit_changes(node):
    node.run("install")
    unit = node.payload / "systemd/crisp.service"
    unit.write_text(unit.read_text().replace("RestartSec=2", "RestartSec=3"))
    node.run("install")
    assert mutating(node.calls()) == ["daemon-reload", "restart crisp.service"]
    assert "RestartSec=3" in (node.host / "etc/systemd/system/crisp.service").read_text()
    assert node.host_exec_calls() == []  # neither crispd nor its config changed


def test_installer_restarts_on_config_change_and_honours_prefix(node, workdir):
    node.run("install", env={"CRISP_PREFIX": "/opt/crisp"})
    unit = (node.host / "etc/systemd/system/crisp.service").read_text()
    assert "ExecStart=/opt/crisp/bin/crispd" in unit
    assert (node.host / "opt/crisp/bin/crispd").exists()
    cfg = workdir / "site.json"
    cfg.write_text('{"workers": 8}\n')
    node.run("install", env={"CRISP_PREFIX": "/opt/crisp", "CRISP_CONFIG_SOURCE": str(cfg)})
    assert mutating(node.calls()) == ["restart crisp.service"]
    assert (node.host / "etc/crisp/crisp.json").read_text() == '{"workers": 8}\n'
    assert len(node.host_exec_calls()) == 1  # the config was tried first, with the old crispd
    assert node.host_exec_calls()[0].startswith("/opt/crisp/bin/crispd --config ")


def test_installer_refuses_a_crispd_or_config_that_fails_on_the_node(node, workdir):
    node.run("install")
    before = node.snapshot()
    crispd = node.payload / "bin/crispd"
    crispd.write_text("#!/bin/sh\necho 'crispd: error while loading shared libraries: "
                      "libgrpc.so.29' >&2\nexit 127\n")
    r = node.run("install", check=False)
    assert r.returncode == 1, r.stderr
    assert "does not run on this node" in r.stderr and "libgrpc.so.29" in r.stderr
    assert node.snapshot() == before and mutating(node.calls()) == []
    assert not (node.host / "usr/local/bin/.crispd.crisp-try").exists()

    shutil.copy2(CRISPD, crispd)
    bad = workdir / "bad.json"
    bad.write_text('{"wrokers": 4}')
    r = node.run("install", env={"CRISP_CONFIG_SOURCE": str(bad)}, check=False)
    assert r.returncode == 1 and "wrokers" in r.stderr, r.stderr
    assert node.snapshot() == before and mutating(node.calls()) == []
    # the node's drop-ins take part: a bad one is caught before crispd restarts
    (node.host / "etc/crisp/crisp.d").mkdir()
    (node.host / "etc/crisp/crisp.d/50-node.json").write_text('{"workers": "many"}')
    good = workdir / "good.json"
    good.write_text('{"workers": 4}')
    r = node.run("install", env={"CRISP_CONFIG_SOURCE": str(good)}, check=False)
    assert r.returncode == 1 and "50-node.json" in r.stderr, r.stderr


def test_installer_never_restarts_a_unit_that_would_kill_containers(node):
    node.run("install")
    (node.state / "killmode").write_text("control-group\n")  # an operator's override
    with open(node.payload / "bin/crispd", "ab") as f:
        f.write(b"\0v2")
    r = node.run("install", check=False)
    assert r.returncode == 1 and "KillMode=control-group" in r.stderr
    assert "restart crisp.service" not in node.calls()


def test_installer_uninstall_keeps_images_unless_purged(node):
    node.run("install")
    (node.host / "var/lib/crisp/layers").mkdir(parents=True)
    (node.host / "var/lib/crisp/images.json").write_text("{}")
    (node.host / "etc/crisp/crisp.d").mkdir()
    (node.host / "etc/crisp/crisp.d/50-node.json").write_text("{}")
    r = node.run("uninstall")
    assert mutating(node.calls()) == ["stop crisp.service", "disable crisp.service",
                                      "daemon-reload"]
    assert not node.state_has("active") and not node.state_has("enabled")
    assert tree(node.host) == {"var/lib/crisp/images.json", "etc/crisp/crisp.d/50-node.json"}
    assert "kept /var/lib/crisp" in r.stderr

    node.run("install")
    (node.proc / "4242").mkdir()
    (node.proc / "4242/comm").write_text("crisp-monitor\n")  # a container still runs
    r = node.run("uninstall", "--purge", check=False)
    assert r.returncode == 1 and "1 containers still run" in r.stderr
    assert mutating(node.calls()) == []  # refused before touching anything
    (node.proc / "4242/comm").write_text("sleep\n")
    node.run("uninstall", "--purge")
    assert tree(node.host) == set()
    assert not (node.host / "var/lib/crisp").exists() and not (node.host / "etc/crisp").exists()


def test_installer_cni_conflist_only_where_no_other_network(node):
    conflist = node.payload / "cni/99-crisp-test.conflist"
    conflist.parent.mkdir(exist_ok=True)
    conflist.write_text('{"cniVersion": "1.0.0", "name": "crisp-test", "plugins": '
                        '[{"type": "bridge"}]}\n')
    netd = node.host / "etc/cni/net.d"
    netd.mkdir(parents=True)
    (netd / "10-calico.conflist").write_text("{}")
    r = node.run("install")
    assert not (netd / conflist.name).exists() and "another network config" in r.stderr
    (netd / "10-calico.conflist").unlink()
    node.run("install")
    assert sha(netd / conflist.name) == sha(conflist)
    assert mutating(node.calls()) == []  # a network config alone restarts nothing
    node.run("install")  # ours is not "another network config"
    assert mutating(node.calls()) == []
    node.run("uninstall")
    assert not (netd / conflist.name).exists()
    # never: not installed
    node.run("install", env={"CRISP_INSTALL_CNI": "never"})
    assert not (netd / conflist.name).exists()
    # installed, then edited on the node: uninstall keeps it, also after a run with never
    node.run("install")
    (netd / conflist.name).write_text("{}")
    node.run("install", env={"CRISP_INSTALL_CNI": "never"})
    r = node.run("uninstall")
    assert (netd / conflist.name).exists() and "changed on the node" in r.stderr


def test_installer_refuses_bad_usage(node):
    assert node.run("frobnicate", check=False).returncode == 2
    assert node.run("install", "--purge", check=False).returncode == 2
    r = node.run("install", env={"CRISP_HOST_ROOT": str(node.base / "nope")}, check=False)
    assert r.returncode == 1 and "CRISP_HOST_ROOT" in r.stderr


def test_image_default_command_installs_and_stays_up(node):
    """ENTRYPOINT + CMD of the image: install, then sleep until SIGTERM."""
    assert node.image["cmd"] == ["install", "--sleep"]
    env = {"PATH": os.environ["PATH"], "CRISP_HOST_ROOT": str(node.host),
           "CRISP_SYSTEMCTL": str(node.fakes / "systemctl"),
           "CRISP_HOST_EXEC": str(node.fakes / "host-exec"), "CRISP_PROC": str(node.proc)}
    p = subprocess.Popen([str(node.image["entrypoint"]), *node.image["cmd"]], env=env,
                         stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stderr:
            if "sleeping until the pod is deleted" in line:
                break
        assert p.poll() is None and node.state_has("active")
        p.terminate()
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()


# ---- Kubernetes manifests -----------------------------------------------------

K8S = DEPLOY / "kubernetes"
API_VERSIONS = {"Namespace": "v1", "DaemonSet": "apps/v1", "RuntimeClass": "node.k8s.io/v1"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def manifests():
    docs = []
    for f in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc is not None:
                docs.append((f.name, doc))
    return docs


def test_manifests_are_valid_kubernetes_objects():
    docs = manifests()
    kinds = sorted(d["kind"] for _, d in docs)
    assert kinds == ["DaemonSet", "DaemonSet", "Namespace", "RuntimeClass"]
    namespaces = {d["metadata"]["name"] for _, d in docs if d["kind"] == "Namespace"}
    for name, d in docs:
        assert d["apiVersion"] == API_VERSIONS[d["kind"]], name
        assert DNS_LABEL.match(d["metadata"]["name"]), name
        if d["kind"] == "DaemonSet":
            assert d["metadata"]["namespace"] in namespaces, name
        if d["kind"] == "RuntimeClass":
            assert DNS_LABEL.match(d["handler"])
    ns = [d for _, d in docs if d["kind"] == "Namespace"][0]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


@pytest.mark.parametrize("name", ["daemonset.yaml", "uninstall.yaml"])
def test_daemonsets_are_privileged_host_installers(name):
    (ds,) = [d for f, d in manifests() if f == name]
    spec = ds["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"] and \
        spec["selector"]["matchLabels"].items() <= labels.items()
    pod = spec["template"]["spec"]
    assert pod["hostPID"] is True
    assert pod["automountServiceAccountToken"] is False  # no API access, no RBAC
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert len(volumes) == len(pod["volumes"])
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["privileged"] is True and sc["runAsUser"] == 0
    assert container["image"]
    # the command is the image's installer
    ins = dockerfile_instructions(INSTALLER_DIR / "Dockerfile")
    entry = [exec_form(a) for i, a in ins if i == "ENTRYPOINT"][-1]
    assert container["command"] == entry
    assert container["args"][0] == ("install" if name == "daemonset.yaml" else "uninstall")
    # every mount names a volume, every volume is a host path that is mounted
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for m in container["volumeMounts"]:
        assert m["name"] in volumes, f"volumeMount {m['name']} has no volume"
    assert {m["name"] for m in container["volumeMounts"]} == set(volumes)
    for v in volumes.values():
        assert v["hostPath"]["path"].startswith("/")
    env = {e["name"]: e["value"] for e in container["env"]}
    host = env["CRISP_HOST_ROOT"]
    assert mounts[host]["readOnly"] is True and \
        volumes[mounts[host]["name"]]["hostPath"]["path"] == "/"
    assert env["CRISP_SYSTEMCTL"] == "nsenter -t 1 -m -u -i -n -p -- systemctl"
    # the installer writes only below these; each is a writable host mount of the same path
    writes = [f"{env['CRISP_PREFIX']}/bin", "/etc/crisp", "/etc/systemd/system",
              "/etc/cni/net.d"]
    if name == "daemonset.yaml":
        writes.append("/run/systemd")  # read-only, but the node's, not the image's
    for path in writes:
        m = mounts[host + path]
        assert volumes[m["name"]]["hostPath"]["path"] == path
        assert m.get("readOnly", False) is (path == "/run/systemd")
    # every variable the manifest sets is one the installer reads
    script = (INSTALLER_DIR / "install.sh").read_text()
    for var in env:
        assert f"${{{var}" in script, f"{var} is not read by install.sh"


def test_runtimeclass_schedules_onto_crisp_nodes():
    (rc,) = [d for _, d in manifests() if d["kind"] == "RuntimeClass"]
    assert rc["scheduling"]["nodeSelector"]


# ---- crispd check -------------------------------------------------------------


def fake_node(base, overlay=True, cni_dir=True):
    """Fake /proc, cgroup, CNI dirs and plugins for `crispd check`; the environment."""
    base = Path(base)
    proc = base / "proc"
    (proc / "self/ns").mkdir(parents=True)
    fs = "nodev\tsysfs\nnodev\ttmpfs\n\text4\n" + ("nodev\toverlay\n" if overlay else "")
    (proc / "filesystems").write_text(fs)
    for ns in ("net", "ipc", "uts", "pid", "mnt", "cgroup"):
        (proc / "self/ns" / ns).write_text("")
    (proc / "self/status").write_text("Name:\tcrispd\nSeccomp:\t0\n")
    (proc / "self/mountinfo").write_text("".join(
        f"{30 + i} 25 0:{30 + i} / /sys/fs/cgroup/{c} rw - cgroup cgroup rw,{c}\n"
        for i, c in enumerate(["cpu,cpuacct", "cpuset", "memory", "pids", "devices",
                               "freezer"])))
    (base / "cgroup").mkdir()
    netd = base / "net.d"
    if cni_dir:
        netd.mkdir()
        (netd / "10-crisp.conflist").write_text(
            '{"cniVersion": "1.0.0", "name": "crisp", "plugins": [{"type": "bridge", '
            '"ipam": {"type": "host-local"}}, {"type": "portmap"}]}')
    bindir = base / "cni-bin"
    bindir.mkdir()
    for p in ("bridge", "host-local", "loopback", "portmap"):
        (bindir / p).write_text("#!/bin/sh\n")
        (bindir / p).chmod(0o755)
    return {**os.environ, "CRISP_CHECK_PROC": str(proc), "CRISP_CHECK_CGROUP": str(base / "cgroup"),
            "CRISP_CHECK_MODULES": str(base / "modules"), "CRISP_CHECK_CNI_CONF_DIR": str(netd),
            "CRISP_CHECK_CNI_BIN_DIRS": f"{base / 'nothing'}:{bindir}"}


def run_check(workdir, env, listen=None):
    listen = listen or workdir / "run/crisp.sock"
    (workdir / "none.json").write_text("{}")
    return subprocess.run([CRISPD, "--config", str(workdir / "none.json"), "--root",
                           str(workdir / "lib"), "--state", str(workdir / "run"), "--listen",
                           str(listen), "check"], capture_output=True, text=True, env=env,
                          timeout=30)


def missing_items(stdout):
    return [line for line in stdout.splitlines() if line.startswith("MISSING")]


def test_check_passes_on_a_ready_node(workdir):
    env = fake_node(workdir / "node")
    r = run_check(workdir, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert missing_items(r.stdout) == []
    assert re.search(r"all \d+ checks passed", r.stdout)
    assert "ok       cni: plugin host-local: " + str(workdir / "node/cni-bin/host-local") \
        in r.stdout


def test_check_reports_missing_cni_dir_and_overlay(workdir):
    env = fake_node(workdir / "node", overlay=False, cni_dir=False)
    r = run_check(workdir, env)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    missing = missing_items(r.stdout)
    assert len(missing) == 2, r.stdout
    proc = workdir / "node/proc"
    netd = workdir / "node/net.d"
    assert missing[0].startswith(f"MISSING  kernel: overlayfs: overlay is not listed in "
                                 f"{proc}/filesystems")
    assert lines[lines.index(missing[0]) + 1].strip().startswith("fix: load it with 'modprobe "
                                                                 "overlay'")
    assert missing[1] == (f"MISSING  cni: config dir: {netd}: No such file or directory: pods "
                          f"cannot get a network, the kubelet will report NetworkReady=false")
    fix = lines[lines.index(missing[1]) + 1].strip()
    assert fix.startswith("fix: install the cluster's network add-on") and f"mkdir -p {netd}" \
        in fix
    assert "2 of " in r.stdout and "checks failed" in r.stdout


def test_check_reports_a_socket_in_use(workdir, crispd):
    env = fake_node(workdir / "node")
    r = run_check(workdir, env, listen=crispd.socket)
    assert r.returncode == 1
    assert missing_items(r.stdout) == [
        f"MISSING  socket {crispd.socket}: crispd (pid {crispd.proc.pid}) is serving it"]


def test_check_on_this_machine_names_every_item():
    """The real node, without fakes: every item appears, ok or MISSING."""
    with tempfile.TemporaryDirectory() as d:
        Path(d, "none.json").write_text("{}")
        r = subprocess.run([CRISPD, "--config", f"{d}/none.json", "--root", f"{d}/lib",
                            "--state", f"{d}/run", "--listen", f"{d}/run/crisp.sock", "check"],
                           capture_output=True, text=True, timeout=30)
    assert r.returncode in (0, 1), r.stderr
    for item in ("kernel: overlayfs", "kernel: namespaces", "kernel: seccomp", "kernel: openat2",
                 "cgroups", "cgroup driver", "cni: config dir", "dir: root", "dir: state",
                 "socket "):
        assert re.search(rf"^(ok      |MISSING ) {re.escape(item)}", r.stdout, re.M), item
    for item in ("kernel: overlayfs", "kernel: namespaces", "kernel: openat2", "cgroups"):
        assert re.search(rf"^ok       {re.escape(item)}", r.stdout, re.M), r.stdout
