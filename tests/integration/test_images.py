"""ImageService against a real registry: pulls, store semantics, sharing,
hostile layers, auth, mirrors, faults and restarts."""
import base64
import json
import os
import signal
import threading
import time

import grpc
import pytest

from conftest import api_pb2
from fakereg import FakeRegistry
from testreg import images as testimages
from testreg.registry import Registry


def spec(image):
    return api_pb2.ImageSpec(image=image)


def pull(client, image, auth=None, timeout=60):
    return client.call("PullImage", image=spec(image), auth=auth, timeout=timeout).image_ref


def status(client, image, verbose=False):
    return client.call("ImageStatus", image=spec(image), verbose=verbose)


def listed(client, image=""):
    flt = api_pb2.ImageFilter(image=spec(image)) if image else None
    return client.call("ListImages", filter=flt).images


def fs_used(client):
    fs = client.call("ImageFsInfo").image_filesystems[0]
    return fs.used_bytes.value, fs.inodes_used.value


def layer_dirs(crispd):
    return sorted(os.listdir(crispd.root / "layers"))


def blobs(crispd):
    return sorted(os.listdir(crispd.root / "blobs" / "sha256"))


def test_pull_by_tag_reports_the_config_digest(registry, client):
    info = registry.images["busybox"]
    assert pull(client, info.ref) == info.config_digest
    img = status(client, info.ref).image
    assert img.id == info.config_digest
    assert list(img.repo_tags) == [info.ref]
    assert list(img.repo_digests) == [f"{info.repo}@{info.manifest_digest}"]
    assert img.size > 1_000_000
    assert img.spec.image == info.config_digest


def test_pull_by_digest_and_by_tag_and_digest(registry, client):
    info = registry.images["busybox"]
    assert pull(client, info.digest_ref) == info.config_digest
    img = status(client, info.digest_ref).image
    assert img.id == info.config_digest
    assert list(img.repo_tags) == []
    both = f"{info.ref}@{info.manifest_digest}"
    assert pull(client, both) == info.config_digest


def test_wrong_digest_is_not_found(registry, client):
    info = registry.images["busybox"]
    with pytest.raises(grpc.RpcError) as e:
        pull(client, f"{info.repo}@sha256:{'0' * 64}")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert registry.host in e.value.details()


def test_unpacked_rootfs_is_the_image(registry, client, crispd):
    info = registry.images["busybox"]
    pull(client, info.ref)
    (layer,) = layer_dirs(crispd)
    assert "sha256:" + layer == info.diff_ids[0]
    root = crispd.root / "layers" / layer
    assert os.path.islink(root / "bin" / "sh")
    assert os.stat(root / "bin" / "busybox").st_mode & 0o777 == 0o755
    assert os.stat(root / "tmp").st_mode & 0o7777 == 0o1777
    assert os.stat(root / "home" / "app").st_uid == 1000


def test_multilayer_whiteouts_and_shared_base_layer(registry, client, crispd):
    pull(client, registry.images["busybox"].ref)
    before = set(layer_dirs(crispd))
    pull(client, registry.images["multilayer"].ref)
    after = set(layer_dirs(crispd))
    assert before < after and len(after) == 3  # the base layer is stored once
    diffs = registry.images["multilayer"].diff_ids
    assert blobs(crispd).count(registry.images["busybox"].layer_digests[0][7:]) == 1
    modes = {}
    for d in after - before:
        b = crispd.root / "layers" / d / "data" / "b.txt"
        if os.path.lexists(b):
            st = os.lstat(b)
            modes["whiteout" if (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0
                  else "file"] = d
    assert set(modes) == {"whiteout", "file"}, "layer 2 adds data/b.txt, layer 3 whites it out"
    opq = crispd.root / "layers" / modes["whiteout"] / "opaque"
    assert os.getxattr(opq, "trusted.overlay.opaque") == b"y"
    assert len(diffs) == 3


def test_docker_schema2_and_zstd_and_plain_layers(registry, client):
    for name in ("dockerv2", "zstd", "uncompressed"):
        info = registry.images[name]
        assert pull(client, info.ref) == info.config_digest, name


@pytest.mark.parametrize("name", ["multiarch", "dockerlist"])
def test_multiarch_index_picks_linux_amd64(registry, client, name):
    info = registry.images[name]
    amd64 = info.platforms["linux/amd64"]
    assert pull(client, info.ref) == amd64.config_digest
    img = status(client, info.ref).image
    assert list(img.repo_digests) == [f"{info.repo}@{info.manifest_digest}"]


def test_image_user_is_reported(registry, client):
    pull(client, registry.images["user"].ref)
    pull(client, registry.images["username"].ref)
    assert status(client, registry.images["user"].ref).image.uid.value == 1000
    named = status(client, registry.images["username"].ref).image
    assert named.username == "app" and not named.HasField("uid")


def test_status_verbose_has_the_image_config(registry, client):
    info = registry.images["stopsignal"]
    pull(client, info.ref)
    st = status(client, info.ref, verbose=True)
    doc = json.loads(st.info["info"])
    assert doc["imageSpec"]["config"]["StopSignal"] == "SIGINT"
    assert doc["manifestDigest"] == info.manifest_digest


def test_status_list_and_remove_semantics(registry, client, crispd):
    bb, dv2 = registry.images["busybox"], registry.images["dockerv2"]
    assert not status(client, bb.ref).HasField("image")  # not found: empty, not an error
    pull(client, bb.ref)
    pull(client, dv2.ref)  # same config: one image with two tags
    assert len(listed(client)) == 1
    assert sorted(listed(client)[0].repo_tags) == sorted([bb.ref, dv2.ref])
    assert [i.id for i in listed(client, bb.ref)] == [bb.config_digest]
    assert len(listed(client, "127.0.0.1:1/nothing:here")) == 0
    for ref in (bb.config_digest, bb.config_digest[7:], bb.config_digest[7:19]):
        assert status(client, ref).image.id == bb.config_digest
    client.call("RemoveImage", image=spec(dv2.ref))  # untags only
    assert list(status(client, bb.ref).image.repo_tags) == [bb.ref]
    used, _ = fs_used(client)
    client.call("RemoveImage", image=spec(bb.config_digest))
    assert len(listed(client)) == 0
    client.call("RemoveImage", image=spec(bb.config_digest))  # idempotent
    assert layer_dirs(crispd) == [] and blobs(crispd) == []
    assert fs_used(client)[0] < used


def test_removing_one_image_keeps_the_shared_layer(registry, client, crispd):
    pull(client, registry.images["busybox"].ref)
    pull(client, registry.images["multilayer"].ref)
    client.call("RemoveImage", image=spec(registry.images["multilayer"].ref))
    assert layer_dirs(crispd) == [registry.images["busybox"].diff_ids[0][7:]]
    assert status(client, registry.images["busybox"].ref).image.id


def test_stream_images(registry, client):
    pull(client, registry.images["busybox"].ref)
    pull(client, registry.images["zstd"].ref)
    chunks = client.call("StreamImages")
    assert sum(len(c.images) for c in chunks) == 2


@pytest.mark.parametrize("ref,part", [("Busybox", "lowercase"), ("", "required"),
                                      ("a@sha256:short", "digest"), ("bad//name", "")])
def test_bad_reference_is_invalid_argument(client, ref, part):
    with pytest.raises(grpc.RpcError) as e:
        pull(client, ref)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert part in e.value.details()


def test_five_parallel_pulls_share_layers(registry, client, crispd):
    names = ["busybox", "multilayer", "dockerv2", "user", "username"]
    results, errors = {}, []

    def one(name):
        c = crispd.client()
        try:
            results[name] = pull(c, registry.images[name].ref)
        except grpc.RpcError as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert all(results[n] == registry.images[n].config_digest for n in names)
    base = registry.images["busybox"].layer_digests[0][7:19]
    assert crispd.log().count(f"layer sha256:{base}: downloaded") == 1


def test_concurrent_pulls_of_one_image_fetch_each_layer_once(registry, crispd):
    info = registry.images["multilayer"]
    clients = [crispd.client() for _ in range(4)]
    threads = [threading.Thread(target=pull, args=(c, info.ref)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for c in clients:
        assert status(c, info.ref).image.id == info.config_digest
        c.close()
    for digest in info.layer_digests:
        assert crispd.log().count(f"layer {digest[:19]}: downloaded") == 1


REFUSED = [n for n in testimages.HOSTILE if n != "evil-absolute"]


def test_absolute_entry_names_land_inside_the_layer(registry, client, crispd):
    """Like docker and containerd: "/etc/x" in a layer is etc/x of the layer."""
    assert not os.path.exists("/etc/crisp-canary-abs")
    pull(client, registry.images["evil-absolute"].ref)
    (layer,) = layer_dirs(crispd)
    assert os.path.exists(crispd.root / "layers" / layer / "etc" / "crisp-canary-abs")
    assert not os.path.exists("/etc/crisp-canary-abs")


@pytest.mark.parametrize("name", REFUSED)
def test_hostile_layers_are_refused(registry, client, crispd, name):
    canaries = {p: open(p, "rb").read() if os.path.exists(p) else None
                for p in testimages.CANARIES}
    with pytest.raises(grpc.RpcError) as e:
        pull(client, registry.images[name].ref)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION, e.value.details()
    assert "layer" in e.value.details()
    for path, before in canaries.items():
        now = open(path, "rb").read() if os.path.exists(path) else None
        assert now == before, f"{name} touched {path}"
    assert len(listed(client)) == 0
    assert os.listdir(crispd.root / "tmp") == []
    assert layer_dirs(crispd) == []


def test_device_nodes_are_created_when_allowed(registry, crispd_factory):
    d = crispd_factory()
    d.config = d.dir / "crisp.json"
    d.config.write_text('{"allow_device_nodes": true}')
    c = d.start().client()
    assert pull(c, registry.images["evil-device"].ref)
    c.close()


def test_images_survive_a_restart(registry, crispd_factory):
    d = crispd_factory().start()
    c = d.client()
    pull(c, registry.images["multilayer"].ref)
    used = fs_used(c)
    c.close()
    assert d.stop() == 0
    d.start()
    c = d.client()
    assert status(c, registry.images["multilayer"].ref).image.id
    assert fs_used(c) == used
    c.close()


def test_air_gapped_mirror_serves_a_registry_with_no_upstream(registry, crispd_factory):
    d = crispd_factory()
    d.config = d.dir / "crisp.json"
    d.config.write_text(json.dumps({"registries": {"registry.invalid": {
        "mirrors": ["http://127.0.0.1:9", f"http://{registry.host}"], "upstream": False}}}))
    c = d.start().client()
    info = registry.images["busybox"]
    assert pull(c, "registry.invalid/crisp-test/busybox:latest") == info.config_digest
    assert "registry.invalid/crisp-test/busybox:latest" in status(
        c, "registry.invalid/crisp-test/busybox").image.repo_tags
    c.close()


def test_unreachable_registry_is_unavailable(client):
    with pytest.raises(grpc.RpcError) as e:
        pull(client, "127.0.0.1:9/crisp-test/busybox:latest")
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "127.0.0.1:9" in e.value.details()


@pytest.fixture(scope="module", params=["basic", "token"])
def auth_registry(request):
    import tempfile
    with tempfile.TemporaryDirectory(prefix="crisp-authreg-") as d:
        with Registry(d, auth=(request.param, "crisp", "s3cret")) as reg:
            reg.images = {"busybox": testimages.push_image(
                reg.client(), reg.host, "busybox", testimages.make_image(
                    [testimages.busybox_layer()]))}
            reg.kind = request.param
            yield reg


def test_auth_registry_without_credentials_is_refused(auth_registry, client):
    with pytest.raises(grpc.RpcError) as e:
        pull(client, auth_registry.images["busybox"].ref)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert auth_registry.host in e.value.details() or "token server" in e.value.details()


def test_auth_registry_with_wrong_password_is_refused(auth_registry, client):
    with pytest.raises(grpc.RpcError) as e:
        pull(client, auth_registry.images["busybox"].ref,
             auth=api_pb2.AuthConfig(username="crisp", password="wrong"))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("form", ["fields", "auth"])
def test_auth_registry_with_credentials(auth_registry, client, form):
    auth = (api_pb2.AuthConfig(username="crisp", password="s3cret") if form == "fields" else
            api_pb2.AuthConfig(auth=base64.b64encode(b"crisp:s3cret").decode()))
    info = auth_registry.images["busybox"]
    assert pull(client, info.ref, auth=auth) == info.config_digest


def test_schema1_is_refused_clearly(client):
    with FakeRegistry("schema1") as fake:
        with pytest.raises(grpc.RpcError) as e:
            pull(client, fake.ref())
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "schema 1" in e.value.details()


def test_server_errors_are_retried(client):
    with FakeRegistry("flaky") as fake:
        assert pull(client, fake.ref()) == fake.image.config.digest
        assert fake.server.requests.count(fake.server.requests[-1]) >= 3


def test_redirects_to_blob_storage_are_followed(client):
    with FakeRegistry("redirect") as fake:
        assert pull(client, fake.ref()) == fake.image.config.digest
        assert any(r.startswith("/storage/") for r in fake.server.requests)


def test_a_pull_without_progress_is_aborted(crispd_factory):
    d = crispd_factory()
    d.config = d.dir / "crisp.json"
    d.config.write_text('{"pull_progress_timeout_seconds": 2}')
    c = d.start().client()
    with FakeRegistry("trickle") as fake:
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            pull(c, fake.ref(), timeout=30)
        assert time.monotonic() - start < 15
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "no progress" in e.value.details()
    assert os.listdir(d.root / "tmp") == []
    c.close()


def test_kill_9_during_a_pull_leaves_no_partial_image(crispd_factory):
    d = crispd_factory().start()
    c = d.client()
    with FakeRegistry("trickle") as fake:
        t = threading.Thread(target=lambda: pytest.raises(grpc.RpcError, pull, c, fake.ref()))
        t.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not os.listdir(d.root / "tmp"):
            time.sleep(0.05)
        assert os.listdir(d.root / "tmp"), "the pull never started writing"
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d._stderr.close()
        t.join(timeout=10)
    c.close()
    d.start()
    c = d.client()
    assert len(listed(c)) == 0
    assert os.listdir(d.root / "tmp") == []
    assert blobs(d) == [] and layer_dirs(d) == []
    c.close()


def test_token_registry_with_an_identity_token(auth_registry, client):
    """An OAuth2 refresh token (docker login's identity token) gets an access token."""
    if auth_registry.kind != "token":
        pytest.skip("identity tokens belong to token auth")
    from testreg.tokenserver import REFRESH_TOKEN
    info = auth_registry.images["busybox"]
    auth = api_pb2.AuthConfig(identity_token=REFRESH_TOKEN)
    assert pull(client, info.ref, auth=auth) == info.config_digest
    with pytest.raises(grpc.RpcError) as e:
        pull(client, info.ref, auth=api_pb2.AuthConfig(identity_token="wrong"))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_token_registry_with_a_registry_token(auth_registry, client):
    """A bearer token handed over as it is."""
    if auth_registry.kind != "token":
        pytest.skip("registry tokens belong to token auth")
    info = auth_registry.images["busybox"]
    token = auth_registry.token_server.issue("crisp", [f"repository:{info.path}:pull"])
    assert pull(client, info.ref, auth=api_pb2.AuthConfig(registry_token=token)) == \
        info.config_digest
