"""Throwaway Debian docker-registry (distribution 2.8) on 127.0.0.1.

    with Registry(tmpdir, auth=("token", "alice", "s3cret")) as reg:
        reg.host          # "127.0.0.1:PORT"
        reg.client()      # RegistryClient with the registry's credentials

    with Registry(tmpdir, tls=True) as reg:
        reg.url           # "https://127.0.0.1:PORT"
        reg.ca_path       # PEM of the throwaway CA that signed its certificate
        reg.client()      # TLSRegistryClient, verifying against that CA

Everything (config, storage, htpasswd, keys, certificates, log) lives in one
temp dir under workdir, removed by stop().
"""

import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse

from .client import (HTTPError, RegistryClient, _repo_of, exchange,
                     parse_challenge, request)
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


# -- TLS ----------------------------------------------------------------------

TLS_SUBJECT_ALT_NAMES = "IP:127.0.0.1,DNS:localhost"

_CA_CNF = """\
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = crisp testreg CA
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

_SERVER_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = 127.0.0.1
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = %s
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
""" % TLS_SUBJECT_ALT_NAMES

_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]


def _openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s"
                           % (args[0], r.stderr.decode(errors="replace")))


def gen_tls(dirname):
    """A private CA and a server certificate it signed for 127.0.0.1 and
    localhost (openssl CLI, P-256 keys). Returns (ca, cert, key) paths."""
    p = lambda name: os.path.join(dirname, name)  # noqa: E731
    for name, text in (("ca.cnf", _CA_CNF), ("server.cnf", _SERVER_CNF)):
        with open(p(name), "w") as fh:
            fh.write(text)
    _openssl("req", "-x509", "-config", p("ca.cnf"), *_EC_KEY, "-nodes",
             "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "3650")
    _openssl("req", "-new", "-config", p("server.cnf"), *_EC_KEY, "-nodes",
             "-keyout", p("server.key"), "-out", p("server.csr"))
    _openssl("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"),
             "-CAkey", p("ca.key"), "-set_serial",
             str(int.from_bytes(os.urandom(8), "big")), "-days", "825",
             "-extfile", p("server.cnf"), "-extensions", "server",
             "-out", p("server.pem"))
    return p("ca.pem"), p("server.pem"), p("server.key")


def tls_request(method, url, body=None, headers=None, timeout=60,
                context=None):
    """client.request, but an https:// URL goes over TLS with context (None:
    the system's default verification)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme != "https":
        return request(method, url, body, headers, timeout)
    conn = http.client.HTTPSConnection(
        u.hostname, u.port or 443, timeout=timeout,
        context=context or ssl.create_default_context())
    return exchange(conn, method, u, body, headers)


class TLSRegistryClient(RegistryClient):
    """RegistryClient for a registry served over https (client.request only
    speaks plain HTTP). context: an ssl.SSLContext, normally one trusting the
    registry's CA. Token realms keep whatever scheme the challenge names."""

    def __init__(self, host, creds=None, timeout=60, context=None):
        super().__init__(host, creds, timeout)
        self.context = context or ssl.create_default_context()

    def url(self, path):
        if path.startswith(("http://", "https://")):
            return path
        return "https://%s%s" % (self.host, path)

    def _send(self, method, url, body, hdrs):
        return tls_request(method, url, body, hdrs, self.timeout, self.context)

    def request(self, method, path, body=None, headers=None, ok=None):
        """RegistryClient.request over TLS (same auth and status handling)."""
        hdrs = dict(headers or {})
        key = (_repo_of(path), method in ("GET", "HEAD"))
        auth = self._auth(key)
        if auth:
            hdrs["Authorization"] = auth
        r = self._send(method, self.url(path), body, hdrs)
        challenge = r.header("WWW-Authenticate")
        if r.status == 401 and self.creds and challenge:
            if hasattr(body, "seek"):
                body.seek(0)
            scope = parse_challenge(challenge)[1].get("scope", "")
            self._scope_for[key] = scope
            hdrs["Authorization"] = self._authenticate(challenge)
            r = self._send(method, self.url(path), body, hdrs)
        if ok is None:
            bad = not 200 <= r.status < 300
        else:
            bad = ok and r.status not in ok
        if bad:
            raise HTTPError(method, self.url(path), r)
        return r


class Registry:
    """auth: None, ("basic", user, password) or ("token", user, password).
    tls: serve https with a certificate for 127.0.0.1/localhost signed by a
    throwaway CA (ca_path); url is then https:// and client() verifies.

    The registry gets PR_SET_PDEATHSIG=SIGKILL: it dies with the *thread*
    that called start(), so start it from a thread that outlives its use."""

    def __init__(self, workdir=None, auth=None, binary=REGISTRY_BIN,
                 tls=False):
        if auth is not None and (len(auth) != 3 or auth[0] not in AUTH_MODES):
            raise ValueError("auth must be None or (mode, user, password)")
        self.workdir, self.auth, self.binary = workdir, auth, binary
        self.tls = bool(tls)
        self.ca_path = self.cert_path = self.key_path = None
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
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def url(self):
        return "%s://%s" % (self.scheme, self.host)

    @property
    def log_path(self):
        return os.path.join(self.dir, "registry.log")

    def ssl_context(self):
        """An SSLContext that trusts only this registry's CA (tls only)."""
        if not self.tls:
            raise ValueError("registry is plain HTTP")
        return ssl.create_default_context(cafile=self.ca_path)

    def request(self, method, path, body=None, headers=None, timeout=60):
        """One unauthenticated request to url + path (verified over TLS)."""
        ctx = self.ssl_context() if self.tls else None
        return tls_request(method, self.url + path, body, headers, timeout,
                           ctx)

    def client(self, creds=...):
        """RegistryClient (TLSRegistryClient verifying against ca_path when
        tls); creds default to the registry's own."""
        creds = self.creds if creds is ... else creds
        if self.tls:
            return TLSRegistryClient(self.host, creds,
                                     context=self.ssl_context())
        return RegistryClient(self.host, creds)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=15):
        """Write config, spawn the registry, wait for GET /v2/ to answer."""
        try:
            self.dir = tempfile.mkdtemp(prefix="testreg-", dir=self.workdir)
            self.port = free_port()
            if self.tls:
                tdir = os.path.join(self.dir, "tls")
                os.mkdir(tdir, 0o700)
                self.ca_path, self.cert_path, self.key_path = gen_tls(tdir)
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
        self.ca_path = self.cert_path = self.key_path = None

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
                r = self.request("GET", "/v2/", timeout=2)
                if r.status in (200, 401):
                    return
            except ssl.SSLCertVerificationError:
                raise  # our certificate is wrong: waiting will not help
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
        if self.tls:
            lines += ["  tls:",
                      "    certificate: " + _q(self.cert_path),
                      "    key: " + _q(self.key_path)]
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
