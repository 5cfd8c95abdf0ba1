"""A registry of our own for fault cases a real one does not produce: blobs
that trickle, 503s before success, redirects to blob storage, schema 1
manifests. Serves one image, built with hack/testreg, on 127.0.0.1."""
import hashlib
import http.server
import json
import socketserver
import threading
import time

from testreg import images


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        srv.requests.append(self.path)
        if self.path == "/v2/":
            return self._send(200, b"{}")
        if srv.flaky_left.get(self.path, srv.flaky) > 0:
            srv.flaky_left[self.path] = srv.flaky_left.get(self.path, srv.flaky) - 1
            return self._send(503, b"try again")
        if self.path.startswith("/storage/"):
            return self._blob(self.path.rsplit("/", 1)[1])
        parts = self.path.split("/")
        if "manifests" in parts:
            return self._send(200, srv.manifest, {"Content-Type": srv.manifest_type})
        if "blobs" in parts:
            digest = parts[-1]
            if srv.redirect:
                return self._send(307, b"", {"Location": f"/storage/{digest}"})
            return self._blob(digest)
        return self._send(404, b"{}")

    def _blob(self, digest):
        data = self.server.blobs.get(digest)
        if data is None:
            return self._send(404, b"{}")
        if self.server.trickle and digest in self.server.trickle_digests:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for i in range(len(data)):
                if self.server.closing:
                    return
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(0.5)
            return
        self._send(200, data, {"Content-Type": "application/octet-stream"})


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeRegistry:
    """behaviour: "plain", "trickle" (layer blobs at 2 bytes/s), "flaky" (each
    path answers 503 twice first), "redirect" (blobs 307 to /storage/),
    "schema1" (the manifest is Docker schema 1)."""

    def __init__(self, behaviour="plain"):
        img = images.make_image([images.busybox_layer()])
        self.image = img
        self.server = _Server(("127.0.0.1", 0), _Handler)
        s = self.server
        s.requests, s.closing = [], False
        s.flaky, s.flaky_left = (2 if behaviour == "flaky" else 0), {}
        s.redirect = behaviour == "redirect"
        s.trickle = behaviour == "trickle"
        s.blobs = {img.config.digest: img.config.data}
        for layer in img.layers:
            s.blobs[layer.digest] = layer.data
        s.trickle_digests = {layer.digest for layer in img.layers}
        s.manifest, s.manifest_type = img.manifest, img.media_type
        if behaviour == "schema1":
            s.manifest = json.dumps({"schemaVersion": 1, "name": "x", "tag": "latest",
                                     "fsLayers": [], "history": []}).encode()
            s.manifest_type = "application/vnd.docker.distribution.manifest.v1+prettyjws"
        self.manifest_digest = "sha256:" + hashlib.sha256(s.manifest).hexdigest()
        self.thread = threading.Thread(target=s.serve_forever, daemon=True)

    @property
    def host(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def ref(self, name="crisp-test/fake"):
        return f"{self.host}/{name}:latest"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.closing = True
        self.server.shutdown()
        self.server.server_close()
