"""Minimal Docker registry v2 HTTP client (plain HTTP, basic or bearer auth).

It answers a 401 the way real clients do: Basic -> resend with credentials;
Bearer -> fetch a token from the challenge's realm for its service and scope,
then resend with it.
"""

import base64
import dataclasses
import http.client
import json
import re
import urllib.parse

from .layers import sha256

_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclasses.dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        return json.loads(self.body)


class HTTPError(Exception):
    def __init__(self, method, url, resp):
        super().__init__("%s %s -> %d %s" % (method, url, resp.status,
                                             resp.body[:300]))
        self.response = resp


def parse_challenge(value):
    """'Bearer realm="r",service="s"' -> ('bearer', {'realm': 'r', ...})."""
    scheme, _, rest = (value or "").partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


def basic_header(user, password):
    raw = ("%s:%s" % (user, password)).encode()
    return "Basic " + base64.b64encode(raw).decode()


def request(method, url, body=None, headers=None, timeout=60):
    """One plain HTTP request to an absolute http:// URL, no auth logic.
    body may be bytes or a binary file object (then set Content-Length)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                      timeout=timeout)
    return exchange(conn, method, u, body, headers)


def exchange(conn, method, u, body=None, headers=None):
    """Sends one request for the split URL u over conn, reads the response,
    closes conn."""
    try:
        path = u.path + ("?" + u.query if u.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        conn.close()


class RegistryClient:
    """Client for one registry host; creds=(user, password) or None."""

    def __init__(self, host, creds=None, timeout=60):
        self.host, self.creds, self.timeout = host, creds, timeout
        self._basic = False
        self._tokens = {}  # scope -> token
        self._scope_for = {}  # (repo, method) -> last challenged scope
        self.token_fetches = 0
        self._pushed = {}  # blob digest -> repo this client pushed it to

    def url(self, path):
        if path.startswith("http://"):
            return path
        return "http://%s%s" % (self.host, path)

    def _auth(self, key):
        if self._basic and self.creds:
            return basic_header(*self.creds)
        scope = self._scope_for.get(key)
        if scope is not None and scope in self._tokens:
            return "Bearer " + self._tokens[scope]
        return None

    def _authenticate(self, challenge):
        """Turn a WWW-Authenticate challenge into an Authorization value."""
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            self._basic = True
            return basic_header(*self.creds)
        if scheme != "bearer":
            raise ValueError("unsupported challenge %r" % challenge)
        scope = params.get("scope", "")
        if scope not in self._tokens:
            self._tokens[scope] = self.fetch_token(params)
        return "Bearer " + self._tokens[scope]

    def fetch_token(self, params):
        """GET realm?service=..&scope=.. with basic credentials."""
        q = {"service": params.get("service", "")}
        if params.get("scope"):
            q["scope"] = params["scope"]
        url = params["realm"] + "?" + urllib.parse.urlencode(q)
        hdrs = {}
        if self.creds:
            hdrs["Authorization"] = basic_header(*self.creds)
        self.token_fetches += 1
        r = request("GET", url, headers=hdrs, timeout=self.timeout)
        if r.status != 200:
            raise HTTPError("GET", url, r)
        body = r.json()
        return body.get("token") or body["access_token"]

    def request(self, method, path, body=None, headers=None, ok=None):
        """Request with auth; raises HTTPError unless status in ok (default:
        any 2xx). Pass ok=() to accept anything."""
        hdrs = dict(headers or {})
        key = (_repo_of(path), method in ("GET", "HEAD"))
        auth = self._auth(key)
        if auth:
            hdrs["Authorization"] = auth
        r = request(method, self.url(path), body, hdrs, self.timeout)
        challenge = r.header("WWW-Authenticate")
        if r.status == 401 and self.creds and challenge:
            if hasattr(body, "seek"):
                body.seek(0)
            scope = parse_challenge(challenge)[1].get("scope", "")
            self._scope_for[key] = scope
            hdrs["Authorization"] = self._authenticate(challenge)
            r = request(method, self.url(path), body, hdrs, self.timeout)
        if ok is None:
            bad = not 200 <= r.status < 300
        else:
            bad = ok and r.status not in ok
        if bad:
            raise HTTPError(method, self.url(path), r)
        return r

    # -- registry API -----------------------------------------------------

    def blob_exists(self, repo, digest):
        r = self.request("HEAD", "/v2/%s/blobs/%s" % (repo, digest), ok=())
        return r.status == 200

    def push_blob(self, repo, data, digest=None, size=None):
        """Monolithic upload (POST then PUT ?digest=). data: bytes or a binary
        file (then pass digest and size). A blob this client pushed to another
        repo is cross-mounted instead; one already present is skipped."""
        if digest is None:
            digest, size = sha256(data), len(data)
        loc = self._start_upload(repo, digest)
        if loc is None:
            return digest
        loc = loc if loc.startswith("http") else self.url(loc)
        loc += ("&" if "?" in loc else "?") + "digest=" + digest
        self.request("PUT", loc, body=data,
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": str(size)})
        self._pushed[digest] = repo
        return digest

    def _start_upload(self, repo, digest):
        """Upload URL for a new blob, or None if it needs no upload."""
        path = "/v2/%s/blobs/uploads/" % repo
        src = self._pushed.get(digest)
        if src and src != repo:
            path += "?" + urllib.parse.urlencode({"mount": digest,
                                                  "from": src})
        elif self.blob_exists(repo, digest):
            return None
        r = self.request("POST", path, headers={"Content-Length": "0"})
        return None if r.status == 201 else r.header("Location")

    def push_manifest(self, repo, ref, body, media_type):
        """PUT a manifest/index under a tag or digest; returns its digest."""
        r = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=body,
                         headers={"Content-Type": media_type})
        digest = r.header("Docker-Content-Digest")
        if digest != sha256(body):
            raise ValueError("registry says %s, we say %s"
                             % (digest, sha256(body)))
        return digest

    def get_manifest(self, repo, ref, accept, method="GET", ok=None):
        """accept: one media type or a list (registries only return an index
        or a manifest list when the client accepts it)."""
        if not isinstance(accept, str):
            accept = ", ".join(accept)
        return self.request(method, "/v2/%s/manifests/%s" % (repo, ref),
                            headers={"Accept": accept}, ok=ok)

    def get_blob(self, repo, digest, method="GET", ok=None):
        return self.request(method, "/v2/%s/blobs/%s" % (repo, digest), ok=ok)


def _repo_of(path):
    """Repository name in a /v2/<name>/(blobs|manifests|tags)/ path."""
    p = urllib.parse.urlsplit(path).path
    m = re.match(r"/v2/(.+?)/(blobs|manifests|tags)/", p)
    return m.group(1) if m else ""
