"""Tests of the registry fixtures: run with
    cd hack && /usr/bin/python3 -m pytest -q testreg
"""

import base64
import gzip
import io
import json
import os
import signal
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

from . import images, tokenserver
from .client import RegistryClient, basic_header, parse_challenge, request
from .layers import sha256
from .registry import Registry, TLSRegistryClient, tls_request

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST_TYPES = {images.OCI_MANIFEST, images.DOCKER_MANIFEST}
INDEX_TYPES = {images.OCI_INDEX, images.DOCKER_LIST}
USER, PASSWORD = "alice", "s3cret"
AUTHS = {"anon": None, "basic": ("basic", USER, PASSWORD),
         "token": ("token", USER, PASSWORD)}


@pytest.fixture(scope="module")
def workdir():
    """Removed at the end whatever happened (pytest's tmp_path is kept)."""
    with tempfile.TemporaryDirectory(prefix="testreg-test-") as d:
        yield d


@pytest.fixture(scope="module", params=list(AUTHS))
def pushed(request, workdir):
    """(registry, {name: ImageInfo}) for each auth mode."""
    with Registry(workdir, AUTHS[request.param]) as reg:
        t = time.monotonic()
        infos = images.push_all(reg)
        took = time.monotonic() - t
        assert took < 10, "push_all took %.1fs" % took
        yield reg, infos


def all_manifests(infos):
    """(ImageInfo, path) for every pushed manifest, index children too."""
    for info in infos.values():
        yield info
        yield from info.platforms.values()


def unpack_blob(data, media_type):
    """Uncompressed tar bytes of a layer blob."""
    if media_type.endswith("gzip"):
        return gzip.decompress(data)
    if media_type.endswith("zstd"):
        return subprocess.run(["zstd", "-d", "-c", "-q"], input=data,
                              capture_output=True, check=True).stdout
    return data


def members(tar):
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return {m.name: (m, tf.extractfile(m).read() if m.isfile() else None)
                for m in tf.getmembers()}


def layer_tar(cl, info, i):
    blob = cl.get_blob(info.path, info.layer_digests[i]).body
    return unpack_blob(blob, info.layer_media_types[i])


# -- retrieval ---------------------------------------------------------------

def test_manifests_by_tag_and_digest(pushed):
    reg, infos = pushed
    cl = reg.client()
    for info in all_manifests(infos):
        refs = [info.manifest_digest] + ([info.tag] if info.tag else [])
        for ref in refs:
            for method in ("HEAD", "GET"):
                r = cl.get_manifest(info.path, ref, info.media_type, method)
                assert r.header("Docker-Content-Digest") == info.manifest_digest
                assert r.header("Content-Type") == info.media_type
                assert int(r.header("Content-Length")) == len(info.manifest)
            assert r.body == info.manifest
            assert sha256(r.body) == info.manifest_digest


def test_manifest_content_matches_info(pushed):
    reg, infos = pushed
    for info in all_manifests(infos):
        m = json.loads(info.manifest)
        assert m["schemaVersion"] == 2 and m["mediaType"] == info.media_type
        if info.media_type in INDEX_TYPES:
            kids = {d["digest"] for d in m["manifests"]}
            assert kids == {i.manifest_digest for i in info.platforms.values()}
            continue
        assert m["config"]["digest"] == info.config_digest
        assert [x["digest"] for x in m["layers"]] == info.layer_digests
        assert [x["mediaType"] for x in m["layers"]] == info.layer_media_types
        assert info.config["rootfs"]["diff_ids"] == info.diff_ids


def test_blobs_by_digest(pushed):
    reg, infos = pushed
    cl = reg.client()
    for info in all_manifests(infos):
        if info.media_type in INDEX_TYPES:
            continue
        m = json.loads(info.manifest)
        for desc in [m["config"]] + m["layers"]:
            head = cl.get_blob(info.path, desc["digest"], "HEAD")
            assert int(head.header("Content-Length")) == desc["size"]
            body = cl.get_blob(info.path, desc["digest"]).body
            assert sha256(body) == desc["digest"] and len(body) == desc["size"]
        config = cl.get_blob(info.path, info.config_digest).json()
        assert config == info.config


def test_diff_ids_are_uncompressed_digests(pushed):
    reg, infos = pushed
    cl = reg.client()
    for info in all_manifests(infos):
        for i in range(len(info.layer_digests)):
            assert sha256(layer_tar(cl, info, i)) == info.diff_ids[i]


def test_index_needs_its_accept_type(pushed):
    """A registry hands out an index only to a client that accepts one."""
    reg, infos = pushed
    cl = reg.client()
    for name in ("multiarch", "dockerlist"):
        info = infos[name]
        r = cl.get_manifest(info.path, "latest", [images.OCI_MANIFEST], ok=())
        assert r.status != 200 or r.header("Docker-Content-Digest") != \
            info.manifest_digest
        r = cl.get_manifest(info.path, "latest", images.ALL_MANIFEST_TYPES)
        assert r.header("Docker-Content-Digest") == info.manifest_digest


def test_unknown_tag_and_blob_404(pushed):
    reg, infos = pushed
    cl = reg.client()
    r = cl.get_manifest(infos["busybox"].path, "nope", images.OCI_MANIFEST,
                        ok=(404,))
    assert r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    cl.get_blob(infos["busybox"].path, "sha256:" + "0" * 64, ok=(404,))


# -- content -----------------------------------------------------------------

def test_busybox_layer(pushed):
    reg, infos = pushed
    info = infos["busybox"]
    assert info.media_type == images.OCI_MANIFEST
    assert info.layer_media_types == ["application/vnd.oci.image.layer.v1.tar+gzip"]
    mem = members(layer_tar(reg.client(), info, 0))
    with open("/bin/busybox", "rb") as fh:
        assert mem["bin/busybox"][1] == fh.read()
    assert mem["bin/busybox"][0].mode == 0o755
    for a in images.APPLETS:
        assert mem["bin/" + a][0].issym() and mem["bin/" + a][0].linkname == "busybox"
    passwd = mem["etc/passwd"][1].decode()
    assert "root:x:0:0:root:/root:/bin/sh" in passwd
    assert "app:x:1000:1000:app:/home/app:/bin/sh" in passwd
    assert ":65534:" in passwd
    assert "extra:x:2000:app" in mem["etc/group"][1].decode()
    assert mem["tmp"][0].mode == 0o1777 and mem["tmp"][0].isdir()
    home = mem["home/app"][0]
    assert (home.uid, home.gid) == (1000, 1000) and mem["root"][0].isdir()
    assert list(mem) == sorted(mem)
    assert all(m.mtime == images.L.MTIME for m, _ in mem.values())
    assert info.config["config"]["Cmd"] == ["sh"]
    assert info.config["config"]["Env"] == [images.PATH_ENV]


def test_multilayer(pushed):
    reg, infos = pushed
    cl, info = reg.client(), infos["multilayer"]
    assert info.layer_digests[0] == infos["busybox"].layer_digests[0]
    assert len(info.layer_digests) == 3
    l2 = members(layer_tar(cl, info, 1))
    a = l2["data/a.txt"][0]
    assert a.pax_headers.get("SCHILY.xattr.user.crisp") == "yes"
    assert l2["data/hard"][0].islnk() and l2["data/hard"][0].linkname == "data/a.txt"
    assert l2["data/link"][0].issym() and l2["data/link"][0].linkname == "a.txt"
    s = l2["data/secret.txt"][0]
    assert (s.mode, s.uid, s.gid) == (0o640, 1000, 2000)
    for p in ("data/b.txt", "data/dir/c.txt", "opaque/old.txt"):
        assert l2[p][0].isfile()
    l3 = members(layer_tar(cl, info, 2))
    assert {"data/.wh.b.txt", "opaque/.wh..wh..opq", "opaque/new.txt"} <= set(l3)
    assert info.extra["expect"]["absent"]


def test_config_variants(pushed):
    _, infos = pushed
    cfg = lambda n: infos[n].config["config"]
    assert cfg("user")["User"] == "1000:1000"
    assert cfg("username")["User"] == "app"
    s = cfg("stopsignal")
    assert s["StopSignal"] == "SIGINT" and s["Entrypoint"] == ["/bin/sh", "-c"]
    assert s["Cmd"] == ["echo hi"] and s["WorkingDir"] == "/work"
    assert "FOO=bar" in s["Env"] and s["Labels"] == {"org.crisp.test": "yes"}
    bb = infos["busybox"].layer_digests
    for n in ("user", "username", "stopsignal", "dockerv2"):
        assert infos[n].layer_digests == bb
    for info in infos.values():
        c = info.config
        assert (c["os"], c["architecture"]) == ("linux", "amd64")
        assert len(c["history"]) == len(info.diff_ids)


def test_dockerv2_zstd_uncompressed(pushed):
    reg, infos = pushed
    cl = reg.client()
    d = infos["dockerv2"]
    m = json.loads(d.manifest)
    assert d.media_type == images.DOCKER_MANIFEST
    assert m["config"]["mediaType"] == images.DOCKER_CONFIG
    assert d.layer_media_types == [images.L.DOCKER_LAYER_GZIP]
    z = infos["zstd"]
    assert z.layer_media_types == ["application/vnd.oci.image.layer.v1.tar+zstd"]
    assert cl.get_blob(z.path, z.layer_digests[0]).body[:4] == b"\x28\xb5\x2f\xfd"
    assert "zstd-marker" in members(layer_tar(cl, z, 0))
    u = infos["uncompressed"]
    assert u.layer_media_types == ["application/vnd.oci.image.layer.v1.tar"]
    assert u.layer_digests == u.diff_ids == infos["busybox"].diff_ids


def test_multiarch(pushed):
    reg, infos = pushed
    cl = reg.client()
    for name, kid_type in (("multiarch", images.OCI_MANIFEST),
                           ("dockerlist", images.DOCKER_MANIFEST)):
        info = infos[name]
        m = json.loads(info.manifest)
        plats = [d["platform"] for d in m["manifests"]]
        assert plats[0] == {"os": "linux", "architecture": "arm64"}
        keys = [images.plat_key(p) for p in plats]
        assert keys.index("windows/amd64") < keys.index("linux/amd64")
        assert "linux/arm/v7" in keys
        assert {d["mediaType"] for d in m["manifests"]} == {kid_type}
        amd = info.platforms["linux/amd64"]
        assert info.resolved_digest == amd.manifest_digest
        assert amd.layer_digests[0] == infos["busybox"].layer_digests[0]
        want = {"linux/arm64": "arm64", "linux/amd64": "amd64",
                "linux/arm/v7": "armv7", "windows/amd64": "windows"}
        for key, text in want.items():
            kid = info.platforms[key]
            tar = layer_tar(cl, kid, len(kid.layer_digests) - 1)
            assert members(tar)["arch"][1] == (text + "\n").encode()
            c = kid.config
            assert images.plat_key({"os": c["os"], "architecture": c["architecture"],
                                    "variant": c.get("variant")}) == key


def test_hostile(pushed):
    reg, infos = pushed
    cl = reg.client()
    names = {}
    for h in images.HOSTILE:
        info = infos[h]
        assert len(info.layer_digests) == 1 and info.extra["hostile"]
        with tarfile.open(fileobj=io.BytesIO(layer_tar(cl, info, 0))) as tf:
            names[h] = [(m.name, m.type, m.linkname) for m in tf.getmembers()]
    assert [n for n, _, _ in names["evil-traversal"]] == [
        "../../../../tmp/crisp-canary-escape", "a/../../escape"]
    assert names["evil-abs-symlink"] == [("x", tarfile.SYMTYPE, "/tmp"), (
        "x/crisp-canary-symlink", tarfile.REGTYPE, "")]
    assert names["evil-rel-symlink"][0] == ("up", tarfile.SYMTYPE,
                                            "../../../../../../tmp")
    assert [(t, l) for _, t, l in names["evil-hardlink"]] == [
        (tarfile.LNKTYPE, "../../../../etc/shadow"), (tarfile.LNKTYPE, "/etc/shadow")]
    assert [n for n, _, _ in names["evil-whiteout"]] == ["../.wh.victim",
                                                           "dir/../../.wh.x"]
    assert [t for _, t, _ in names["evil-device"]] == [
        tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE]
    lens = sorted(len(n) for n, _, _ in names["evil-longname"])
    assert lens[0] == 300 and lens[1] >= 4900
    assert names["evil-absolute"][0][0] == "/etc/crisp-canary-abs"


def test_images_are_deterministic():
    a, b = images._simple_images(), images._simple_images()
    assert {k: v[0].digest for k, v in a.items()} == \
        {k: v[0].digest for k, v in b.items()}


# -- auth --------------------------------------------------------------------

def _anon_get(reg, path):
    return request("GET", reg.url + "/v2/%s/manifests/latest" % path,
                   headers={"Accept": images.OCI_MANIFEST})


def test_auth_enforced(pushed):
    reg, infos = pushed
    path = infos["busybox"].path
    r = _anon_get(reg, path)
    if reg.mode is None:
        assert r.status == 200
        return
    assert r.status == 401
    scheme, params = parse_challenge(r.header("WWW-Authenticate"))
    if reg.mode == "basic":
        assert r.header("WWW-Authenticate") == 'Basic realm="crisp-test-registry"'
    else:
        assert scheme == "bearer"
        assert params == {"realm": reg.token_server.realm,
                          "service": "crisp-test-registry",
                          "scope": "repository:%s:pull" % path}
    bad = reg.client(creds=(USER, "wrong"))
    with pytest.raises(Exception):
        bad.get_manifest(path, "latest", images.OCI_MANIFEST)
    ok = reg.client().get_manifest(path, "latest", images.OCI_MANIFEST)
    assert ok.header("Docker-Content-Digest") == infos["busybox"].manifest_digest


def test_basic_wrong_password_401(pushed):
    reg, infos = pushed
    if reg.mode != "basic":
        pytest.skip("basic auth only")
    r = request("GET", reg.url + "/v2/", headers={
        "Authorization": basic_header(USER, "wrong")})
    assert r.status == 401


def _token(reg, scope, creds=(USER, PASSWORD), method="GET"):
    realm = reg.token_server.realm
    if method == "POST":
        form = "grant_type=password&service=crisp-test-registry" \
               "&username=%s&password=%s&scope=%s" % (*creds, scope)
        return request("POST", realm, form.encode(), {
            "Content-Type": "application/x-www-form-urlencoded"})
    q = "?service=crisp-test-registry&scope=" + scope
    hdrs = {"Authorization": basic_header(*creds)} if creds else {}
    return request("GET", realm + q, headers=hdrs)


def _jwt_part(tok, i):
    s = tok.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


def test_token_server(pushed):
    reg, infos = pushed
    if reg.mode != "token":
        pytest.skip("token auth only")
    path = infos["busybox"].path
    scope = "repository:%s:pull" % path
    assert _token(reg, scope, creds=None).status == 401
    assert _token(reg, scope, creds=(USER, "wrong")).status == 401
    r = _token(reg, scope)
    assert r.status == 200
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    hdr, claims = _jwt_part(body["token"], 0), _jwt_part(body["token"], 1)
    assert hdr["alg"] == "RS256" and len(hdr["x5c"]) == 1
    assert claims["iss"] == "crisp-test-issuer"
    assert claims["aud"] == "crisp-test-registry" and claims["sub"] == USER
    assert claims["access"] == [{"type": "repository", "name": path,
                                 "actions": ["pull"]}]
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    url = reg.url + "/v2/%s/manifests/latest" % path
    accept = {"Accept": images.OCI_MANIFEST}
    ok = request("GET", url, headers={**accept, "Authorization": "Bearer " + body["token"]})
    assert ok.status == 200 and ok.body == infos["busybox"].manifest
    form = _token(reg, scope, method="POST")
    assert form.status == 200
    ok = request("GET", url, headers={**accept, "Authorization":
                                      "Bearer " + form.json()["access_token"]})
    assert ok.status == 200


def test_token_scope_and_signature_enforced(pushed):
    reg, infos = pushed
    if reg.mode != "token":
        pytest.skip("token auth only")
    path = infos["busybox"].path
    url = reg.url + "/v2/%s/manifests/latest" % path
    accept = {"Accept": images.OCI_MANIFEST}
    other = _token(reg, "repository:crisp-test/user:pull").json()["token"]
    r = request("GET", url, headers={**accept, "Authorization": "Bearer " + other})
    assert r.status == 401
    tok = _token(reg, "repository:%s:pull" % path).json()["token"]
    h, c, s = tok.split(".")
    forged = h + "." + c + "." + ("A" if s[0] != "A" else "B") + s[1:]
    r = request("GET", url, headers={**accept, "Authorization": "Bearer " + forged})
    assert r.status == 401
    r = request("PUT", reg.url + "/v2/%s/manifests/x" % path,
                infos["busybox"].manifest,
                {"Content-Type": images.OCI_MANIFEST,
                 "Authorization": "Bearer " + tok})
    assert r.status == 401


def test_signers_agree(workdir):
    key, _ = tokenserver.gen_cert(tempfile.mkdtemp(dir=workdir))
    data = b"header.claims"
    assert tokenserver.make_signer(key)(data) == tokenserver.sign_cli(key, data)


# -- lifecycle ---------------------------------------------------------------

def _listen_inodes():
    """{socket inode: local address hex} of every TCP listener."""
    out = {}
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(fn) as fh:
            for line in list(fh)[1:]:
                f = line.split()
                if f[3] == "0A":  # LISTEN
                    out[f[9]] = f[1].rsplit(":", 1)[0]
    return out


def _socket_inodes(pid):
    res = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            res.add(link[8:-1])
    return res


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_listens_on_loopback_only(workdir, mode):
    with Registry(workdir, AUTHS[mode]) as reg:
        listeners = _listen_inodes()
        mine = _socket_inodes(reg.proc.pid) | _socket_inodes(os.getpid())
        addrs = {listeners[i] for i in mine if i in listeners}
        assert addrs == {"0100007F"}, addrs  # 127.0.0.1, little endian


def test_stop_cleans_up_even_on_error(workdir):
    reg = Registry(workdir, AUTHS["token"])
    with pytest.raises(RuntimeError):
        with reg:
            pid, d, port = reg.proc.pid, reg.dir, reg.port
            tport = reg.token_server.port
            raise RuntimeError("boom")
    assert reg.proc is None and not os.path.exists(d)
    assert not os.path.exists("/proc/%d" % pid)
    for p in (port, tport):
        with pytest.raises(OSError):
            request("GET", "http://127.0.0.1:%d/" % p, timeout=2)


def test_failed_start_cleans_up(workdir):
    d = tempfile.mkdtemp(dir=workdir)
    reg = Registry(d, binary="/bin/false")
    with pytest.raises(RuntimeError, match="exited"):
        reg.start()
    assert reg.proc is None and reg.dir is None and os.listdir(d) == []


@pytest.mark.parametrize("auth", list(AUTHS))
def test_tls(workdir, auth):
    """https with a private CA: verified push and pull, the certificate
    names 127.0.0.1 and localhost, plain HTTP and unverified TLS fail, and
    everything (keys too) goes with stop()."""
    with Registry(workdir, AUTHS[auth], tls=True) as reg:
        assert reg.url == "https://" + reg.host
        d, ca = reg.dir, reg.ca_path
        assert ca.startswith(d + os.sep) and open(ca).read().startswith(
            "-----BEGIN CERTIFICATE-----")
        cl = reg.client()
        assert isinstance(cl, TLSRegistryClient)
        info = images.push_image(cl, reg.host, "busybox", images.make_image(
            [images.busybox_layer()]))
        r = reg.client().get_manifest(info.path, "latest", images.OCI_MANIFEST)
        assert r.header("Docker-Content-Digest") == info.manifest_digest
        blob = cl.get_blob(info.path, info.layer_digests[0]).body
        assert sha256(blob) == info.layer_digests[0]
        ctx = ssl.create_default_context(cafile=ca)
        for host in ("127.0.0.1", "localhost"):
            url = "https://%s:%d/v2/" % (host, reg.port)
            assert tls_request("GET", url, context=ctx).status in (200, 401)
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_request("GET", reg.url + "/v2/", timeout=5)  # system CAs
        plain = request("GET", "http://%s/v2/" % reg.host, timeout=5)
        assert plain.status == 400  # Go: "HTTP request to an HTTPS server"
    assert not os.path.exists(d) and reg.ca_path is None


def test_big_cached(workdir):
    cache = os.path.join(workdir, "cache")
    with Registry(workdir) as reg:
        info = images.big(reg, total_mb=4, layers=2, cache_dir=cache)
        assert len(info.layer_digests) == 3
        assert info.layer_digests[0] == images.busybox_layer().digest
        assert info.extra["total_bytes"] > 4 << 20
        cl = reg.client()
        body = cl.get_blob(info.path, info.layer_digests[2]).body
        assert sha256(body) == info.layer_digests[2]
        assert sha256(gzip.decompress(body)) == info.diff_ids[2]
        r = cl.get_manifest(info.path, "latest", images.OCI_MANIFEST)
        assert r.header("Docker-Content-Digest") == info.manifest_digest
    entry = os.path.join(cache, "big-4mb-2")
    stamp = os.stat(os.path.join(entry, "meta.json")).st_mtime_ns
    with Registry(workdir) as reg:
        again = images.big(reg, total_mb=4, layers=2, cache_dir=cache)
    assert again.layer_digests == info.layer_digests
    assert os.stat(os.path.join(entry, "meta.json")).st_mtime_ns == stamp


def test_cli_serve_and_sigterm(workdir):
    d = tempfile.mkdtemp(dir=workdir)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE))
    p = subprocess.Popen([sys.executable, "-m", "testreg", "serve", "--dir", d,
                          "--auth", "basic"], stdout=subprocess.PIPE, env=env)
    try:
        out = json.loads(p.stdout.readline())
        info = out["images"]["busybox"]
        cl = RegistryClient(out["host"], (out["user"], out["password"]))
        r = cl.get_manifest("crisp-test/busybox", "latest", images.OCI_MANIFEST)
        assert r.header("Docker-Content-Digest") == info["manifest_digest"]
        assert info["ref"] == out["host"] + "/crisp-test/busybox:latest"
        assert set(images.HOSTILE) <= set(out["images"])
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
        assert os.listdir(d) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
