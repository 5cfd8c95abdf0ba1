"""Throwaway Debian docker-registry (distribution 2.8) on 127.0.0.1.

    with Registry(tmpdir, auth=("token", "alice", "s3cret")) as reg:
        reg.host          # "127.0.0.1:PORT"
        reg.client()      # RegistryClient with the registry's credentials

Everything (config, storage, htpasswd, keys, log) lives in one temp dir under
workdir, removed by stop().
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from .client import RegistryClient, request
from .tokenserver import ISSUER, SERVICE, TokenServer

REGISTRY_BIN = "/usr/bin/docker-registry"
AUTH_MODES = ("basic", "token")


def free_port():
    """A port the kernel just handed out on 127.0.0.1 (bind to 0, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """preexec_fn: SIGKILL the registry if the thread that started it dies,
    so a crashed test run leaves no registry behind."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _q(s):
    """YAML scalar: a JSON string is a valid double-quoted YAML string."""
    return json.dumps(str(s))


class Registry:
    """auth: None, ("basic", user, password) or ("token", user, password).

    The registry gets PR_SET_PDEATHSIG=SIGKILL: it dies with the *thread*
    that called start(), so start it from a thread that outlives its use."""

    def __init__(self, workdir=None, auth=None, binary=REGISTRY_BIN):
        if auth is not None and (len(auth) != 3 or auth[0] not in AUTH_MODES):
            raise ValueError("auth must be None or (mode, user, password)")
        self.workdir, self.auth, self.binary = workdir, auth, binary
        self.mode = auth[0] if auth else None
        self.creds = tuple(auth[1:]) if auth else None
        self.port = None
        self.dir = None
        self.proc = None
        self.token_server = None

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    @property
    def url(self):
        return "http://" + self.host

    @property
    def log_path(self):
        return os.path.join(self.dir, "registry.log")

    def client(self, creds=...):
        """RegistryClient; creds default to the registry's own."""
        return RegistryClient(self.host, self.creds if creds is ... else creds)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=15):
        """Write config, spawn the registry, wait for GET /v2/ to answer."""
        try:
            self.dir = tempfile.mkdtemp(prefix="testreg-", dir=self.workdir)
            self.port = free_port()
            cfg = os.path.join(self.dir, "config.yml")
            with open(cfg, "w") as fh:
                fh.write(self._config())
            self._spawn(cfg)
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Kill the registry and token server, remove the temp dir."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self.token_server is not None:
            self.token_server.stop()
            self.token_server = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def _spawn(self, cfg):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve", cfg], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                preexec_fn=_die_with_parent)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited %s:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                r = request("GET", self.url + "/v2/", timeout=2)
                if r.status in (200, 401):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("docker-registry not ready:\n"
                                   + self.log_tail())
            time.sleep(0.02)

    def _config(self):
        storage = os.path.join(self.dir, "storage")
        os.mkdir(storage)
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            "    rootdirectory: " + _q(storage),
            "  delete:",
            "    enabled: true",
            "  cache:",
            "    blobdescriptor: inmemory",
            "http:",
            "  addr: " + _q(self.host),
            "  secret: crisp-testreg-secret",
        ]
        return "\n".join(lines + self._auth_config()) + "\n"

    def _auth_config(self):
        if self.mode == "basic":
            path = os.path.join(self.dir, "htpasswd")
            out = subprocess.run(["htpasswd", "-Bbn", *self.creds], check=True,
                                 capture_output=True).stdout
            with open(path, "wb") as fh:
                fh.write(out.strip() + b"\n")
            return ["auth:", "  htpasswd:", "    realm: crisp-test-registry",
                    "    path: " + _q(path)]
        if self.mode == "token":
            tdir = os.path.join(self.dir, "token")
            os.mkdir(tdir)
            self.token_server = TokenServer(tdir, *self.creds).start()
            return ["auth:", "  token:",
                    "    realm: " + _q(self.token_server.realm),
                    "    service: " + _q(SERVICE),
                    "    issuer: " + _q(ISSUER),
                    "    rootcertbundle: " + _q(self.token_server.cert)]
        return []
