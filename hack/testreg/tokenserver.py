"""Docker token-auth server (the `realm` a registry's Bearer challenge names).

GET /token?service=S&scope=repository:NAME:pull[,push] with HTTP basic
credentials, or the OAuth2 form POST /token (grant_type=password), returns
{"token", "access_token", "expires_in", "issued_at"}; bad or missing
credentials get 401. Tokens are RS256 JWTs whose header carries the signing
certificate as `x5c`; distribution 2.8 verifies that chain against its
`rootcertbundle` (registry/auth/token/token.go, parseAndVerifyCertChain).
"""

import base64
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.parse

SERVICE = "crisp-test-registry"
ISSUER = "crisp-test-issuer"
TTL = 300


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def gen_cert(dirname):
    """RSA key + self-signed CA cert via the openssl CLI; returns paths."""
    key = os.path.join(dirname, "key.pem")
    cert = os.path.join(dirname, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "3650",
                    "-subj", "/CN=" + ISSUER],
                   check=True, capture_output=True)
    return key, cert


def pem_der_b64(cert_path):
    """Standard base64 of the cert's DER, as x5c wants: the PEM body."""
    lines = open(cert_path).read().strip().splitlines()
    return "".join(lines[1:-1])


def make_signer(key_path):
    """RS256 signing function for a PEM key: python3-cryptography (key loaded
    once; loading costs ~50 ms), else the openssl CLI per call."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError:
        return lambda data: sign_cli(key_path, data)
    with open(key_path, "rb") as fh:
        key = serialization.load_pem_private_key(fh.read(), password=None)
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def sign_cli(key_path, data):
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path],
                          input=data, capture_output=True, check=True).stdout


def parse_scope(scope):
    """'repository:a/b:pull,push' -> ('repository', 'a/b', ['pull', 'push']).
    The name may itself contain ':' (e.g. a host:port prefix)."""
    typ, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return typ, name, [a for a in actions.split(",") if a]


REFRESH_TOKEN = "crisp-test-refresh-token"  # the identity token the server accepts


class TokenServer:
    """Token server thread on 127.0.0.1:<free port>. Grants a valid user every
    action asked for. `requests` records (method, user, scopes, status)."""

    def __init__(self, dirname, user, password):
        self.dir, self.user, self.password = dirname, user, password
        self.key = self.cert = None
        self.requests = []
        self._httpd = self._thread = None

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def realm(self):
        return "http://127.0.0.1:%d/token" % self.port

    def start(self):
        self.key, self.cert = gen_cert(self.dir)
        self._x5c = pem_der_b64(self.cert)
        self._sign = make_signer(self.key)
        handler = type("Handler", (_Handler,), {"server_obj": self})
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="testreg-token", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = None

    def check(self, user, password):
        return (user, password) == (self.user, self.password)

    def issue(self, subject, scopes, service=SERVICE):
        """Signed JWT granting the given scope strings."""
        now = int(time.time())
        access = []
        for s in scopes:
            typ, name, actions = parse_scope(s)
            access.append({"type": typ, "name": name, "actions": actions})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {"iss": ISSUER, "sub": subject, "aud": service,
                  "exp": now + TTL, "nbf": now - 10, "iat": now,
                  "jti": os.urandom(16).hex(), "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode()))
        sig = self._sign(signing_input.encode())
        return signing_input + "." + b64url(sig)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_obj = None  # the TokenServer, set by a subclass per server

    def log_message(self, *args):
        pass

    def _reply(self, status, body, user=None, scopes=()):
        self.server_obj.requests.append((self.command, user, list(scopes),
                                         status))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate",
                             'Basic realm="crisp-test-token"')
        self.end_headers()
        self.wfile.write(data)

    def _grant(self, user, password, service, scopes):
        srv = self.server_obj
        if not srv.check(user, password):
            return self._reply(401, {"errors": [{"code": "UNAUTHORIZED"}]},
                               user, scopes)
        if service and service != SERVICE:
            return self._reply(400, {"errors": [{"code": "UNKNOWN_SERVICE"}]},
                               user, scopes)
        tok = srv.issue(user, scopes, service or SERVICE)
        self._reply(200, {"token": tok, "access_token": tok,
                          "expires_in": TTL,
                          "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                     time.gmtime())},
                    user, scopes)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path != "/token":
            return self._reply(404, {"errors": [{"code": "NOT_FOUND"}]})
        user = password = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                raw = base64.b64decode(auth[6:]).decode()
                user, _, password = raw.partition(":")
            except ValueError:
                pass
        scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
        self._grant(user, password, q.get("service", [""])[0], scopes)

    def do_POST(self):
        """OAuth2 password grant, as containerd tries first."""
        if urllib.parse.urlsplit(self.path).path != "/token":
            return self._reply(404, {"errors": [{"code": "NOT_FOUND"}]})
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        get = lambda k: form.get(k, [""])[0]
        scopes = [s for s in get("scope").split(" ") if s]
        if get("grant_type") == "refresh_token":  # an identity token, as docker login stores
            if get("refresh_token") != REFRESH_TOKEN:
                return self._reply(401, {"error": "invalid_grant"})
            return self._reply(200, {"access_token": self.server_obj.issue("refresh", scopes),
                                     "expires_in": 300})
        if get("grant_type") != "password":
            return self._reply(400, {"error": "unsupported_grant_type"})
        self._grant(get("username"), get("password"), get("service"), scopes)

