"""The test images, built in memory and pushed with the registry HTTP API.

push_all(registry) pushes every image below and returns {short name:
ImageInfo}. All repos are crisp-test/<name>:latest. big() pushes a large
image on request only.

distribution 2.8 quirks a puller meets: an index or list is returned only to
a client whose Accept lists its media type (an OCI index otherwise gives 404
MANIFEST_UNKNOWN); a Docker list or schema2 manifest asked for by tag without
its Accept type is down-converted to a signed schema1 manifest (the amd64
child, for a list); no config setting turns that off.
"""

import dataclasses
import functools
import json
import os

from . import layers as L
from .layers import Blob, sha256

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
ALL_MANIFEST_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST]

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX_BIN = "/bin/busybox"
APPLETS = ["sh", "ls", "cat", "echo", "sleep", "id", "env", "true", "false",
           "head", "wc", "stat", "mount", "hostname", "ps", "touch", "mkdir",
           "rm", "grep", "cut", "tr", "yes", "dd", "test", "["]
PREFIX = "crisp-test/"
CANARY = b"crisp-canary\n"

HOSTILE = ["evil-traversal", "evil-abs-symlink", "evil-rel-symlink",
           "evil-hardlink", "evil-whiteout", "evil-device", "evil-longname",
           "evil-absolute"]

# Host paths a hostile image tries to create; none may exist after a pull.
CANARIES = ["/tmp/crisp-canary-escape", "/tmp/crisp-canary-symlink",
            "/tmp/crisp-canary-rel", "/etc/crisp-canary-abs"]


@dataclasses.dataclass
class Image:
    """A built, not yet pushed, image manifest (not an index)."""
    manifest: bytes
    media_type: str
    config: Blob
    layers: list

    @property
    def digest(self):
        return sha256(self.manifest)


@dataclasses.dataclass
class ImageInfo:
    """What was pushed. For an index/list, manifest_digest and media_type are
    the index's; config_digest, layer_digests, diff_ids, layer_media_types and
    resolved_digest describe its linux/amd64 child, and platforms maps
    "os/arch[/variant]" to each child's ImageInfo (tag "")."""
    name: str
    repo: str
    tag: str
    manifest_digest: str
    media_type: str
    config_digest: str
    layer_digests: list
    diff_ids: list
    layer_media_types: list
    config: dict
    manifest: bytes
    resolved_digest: str = ""
    platforms: dict = dataclasses.field(default_factory=dict)
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def ref(self):
        return "%s:%s" % (self.repo, self.tag)

    @property
    def digest_ref(self):
        return "%s@%s" % (self.repo, self.manifest_digest)

    @property
    def path(self):
        """Repository name without the host, as in /v2/<path>/..."""
        return self.repo.split("/", 1)[1]

    def as_dict(self):
        d = {k: v for k, v in dataclasses.asdict(self).items()
             if k not in ("manifest", "platforms")}
        d.update(ref=self.ref, digest_ref=self.digest_ref,
                 platforms={p: i.manifest_digest
                            for p, i in self.platforms.items()})
        return d


# -- content ----------------------------------------------------------------

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "app:x:1000:1000:app:/home/app:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = "root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n"


def busybox_entries():
    """Minimal rootfs: static busybox, applet links, users, /tmp, homes."""
    with open(BUSYBOX_BIN, "rb") as fh:
        bb = fh.read()
    e = [L.d("bin"), L.f("bin/busybox", bb, 0o755), L.d("etc"),
         L.f("etc/passwd", PASSWD), L.f("etc/group", GROUP),
         L.d("tmp", 0o1777), L.d("root", 0o700), L.d("home"),
         L.d("home/app", 0o755, 1000, 1000)]
    e += [L.symlink("bin/" + a, "busybox") for a in sorted(set(APPLETS))]
    return e


@functools.lru_cache(maxsize=None)
def busybox_layer(compression="gzip"):
    return L.layer(busybox_entries(), compression)


MULTILAYER_L2 = [
    L.d("data"), L.d("data/dir"), L.d("opaque"),
    L.f("data/a.txt", "a\n", xattrs={"user.crisp": "yes"}),
    L.f("data/b.txt", "b\n"), L.f("data/dir/c.txt", "c\n"),
    L.f("data/secret.txt", "secret\n", 0o640, 1000, 2000),
    L.f("opaque/old.txt", "old\n"),
    L.hardlink("data/hard", "data/a.txt"), L.symlink("data/link", "a.txt"),
]
MULTILAYER_L3 = [
    L.d("data"), L.d("opaque"), L.f("data/.wh.b.txt", ""),
    L.f("opaque/.wh..wh..opq", ""), L.f("opaque/new.txt", "new\n"),
]
# What a correct unpack of multilayer shows (paths inside the rootfs).
MULTILAYER_EXPECT = {
    "files": {"/data/a.txt": "a\n", "/data/hard": "a\n",
              "/data/dir/c.txt": "c\n", "/data/secret.txt": "secret\n",
              "/opaque/new.txt": "new\n"},
    "absent": ["/data/b.txt", "/data/.wh.b.txt", "/opaque/old.txt",
               "/opaque/.wh..wh..opq"],
    "symlinks": {"/data/link": "a.txt"},
    "hardlinks": [["/data/hard", "/data/a.txt"]],
    "modes": {"/data/secret.txt": [0o640, 1000, 2000]},
    "xattrs": {"/data/a.txt": {"user.crisp": "yes"}},
}


def _long_path():
    """~5000-char path of 50-char components (file at the end)."""
    comps = ["%02d" % i + "p" * 48 for i in range(98)]
    return "/".join(comps) + "/f"


def hostile_entries(name):
    """Entries of one hostile layer; order matters, so never sorted."""
    c = CANARY
    return {
        "evil-traversal": [L.f("../../../../tmp/crisp-canary-escape", c),
                           L.f("a/../../escape", c)],
        "evil-abs-symlink": [L.symlink("x", "/tmp"),
                             L.f("x/crisp-canary-symlink", c)],
        "evil-rel-symlink": [L.symlink("up", "../../../../../../tmp"),
                             L.f("up/crisp-canary-rel", c)],
        "evil-hardlink": [L.hardlink("shadow", "../../../../etc/shadow"),
                          L.hardlink("shadow-abs", "/etc/shadow")],
        "evil-whiteout": [L.f("../.wh.victim", ""),
                          L.f("dir/../../.wh.x", "")],
        "evil-device": [L.d("dev"), L.dev("dev/mem", "c", 1, 1),
                        L.dev("dev/sda", "b", 8, 0)],
        "evil-longname": [L.f("x" * 300, c), L.f(_long_path(), c)],
        "evil-absolute": [L.f("/etc/crisp-canary-abs", c)],
    }[name]


# -- manifests --------------------------------------------------------------

def make_config(layer_blobs, os_="linux", arch="amd64", variant=None, **cfg):
    """Image config JSON; cfg entries override/extend the "config" object."""
    conf = {"Env": [PATH_ENV], "Cmd": ["sh"]}
    conf.update(cfg)
    c = {"created": L.CREATED, "architecture": arch, "os": os_,
         "config": conf,
         "rootfs": {"type": "layers",
                    "diff_ids": [b.diff_id for b in layer_blobs]},
         "history": [{"created": L.CREATED,
                      "created_by": "crisp testreg layer %d" % i}
                     for i in range(len(layer_blobs))]}
    if variant:
        c["variant"] = variant
    return c


def _json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def make_image(layer_blobs, docker=False, **config_kw):
    """OCI manifest (or Docker schema2 with docker=True) over layer_blobs."""
    config = make_config(layer_blobs, **config_kw)
    ctype, mtype = ((DOCKER_CONFIG, DOCKER_MANIFEST) if docker
                    else (OCI_CONFIG, OCI_MANIFEST))
    cblob = Blob(_json(config), ctype)
    ltype = L.DOCKER_LAYER_GZIP if docker else None  # None: the blob's own
    manifest = {"schemaVersion": 2, "mediaType": mtype,
                "config": cblob.descriptor(),
                "layers": [b.descriptor(ltype) for b in layer_blobs]}
    return Image(_json(manifest), mtype, cblob, list(layer_blobs))


def arch_layer(text):
    return L.layer([L.f("arch", text + "\n")])


def platform_images(docker=False):
    """(platform dict, Image) pairs of the multiarch index, in index order:
    arm64 first, and a windows/amd64 entry before linux/amd64."""
    bb = busybox_layer()
    specs = [({"os": "linux", "architecture": "arm64"}, [arch_layer("arm64")]),
             ({"os": "windows", "architecture": "amd64"},
              [arch_layer("windows")]),
             ({"os": "linux", "architecture": "amd64"},
              [bb, arch_layer("amd64")]),
             ({"os": "linux", "architecture": "arm", "variant": "v7"},
              [arch_layer("armv7")])]
    return [(p, make_image(ls, docker, os_=p["os"], arch=p["architecture"],
                           variant=p.get("variant"), Cmd=["cat", "/arch"]))
            for p, ls in specs]


def plat_key(p):
    return "/".join(x for x in (p["os"], p["architecture"], p.get("variant"))
                    if x)


# -- pushing ----------------------------------------------------------------

def push_image(client, host, name, image, tag="latest", extra=None):
    """Push blobs then manifest (by tag, or by digest if tag is "")."""
    repo = PREFIX + name
    for b in image.layers + [image.config]:
        client.push_blob(repo, b.data)
    digest = client.push_manifest(repo, tag or image.digest, image.manifest,
                                  image.media_type)
    m = json.loads(image.manifest)
    return ImageInfo(
        name=name, repo="%s/%s" % (host, repo), tag=tag,
        manifest_digest=digest, media_type=image.media_type,
        config_digest=image.config.digest,
        layer_digests=[b.digest for b in image.layers],
        diff_ids=[b.diff_id for b in image.layers],
        layer_media_types=[x["mediaType"] for x in m["layers"]],
        config=json.loads(image.config.data), manifest=image.manifest,
        resolved_digest=digest, extra=dict(extra or {}))


def push_index(client, host, name, docker=False, tag="latest"):
    """Push the platform images by digest, then the index/list over them."""
    children, platforms = [], {}
    for plat, img in platform_images(docker):
        info = push_image(client, host, name, img, tag="")
        platforms[plat_key(plat)] = info
        desc = {"mediaType": img.media_type, "digest": img.digest,
                "size": len(img.manifest), "platform": plat}
        children.append(desc)
    mtype = DOCKER_LIST if docker else OCI_INDEX
    body = _json({"schemaVersion": 2, "mediaType": mtype,
                  "manifests": children})
    digest = client.push_manifest(PREFIX + name, tag, body, mtype)
    info = dataclasses.replace(platforms["linux/amd64"], name=name, tag=tag,
                               manifest_digest=digest, media_type=mtype,
                               manifest=body, platforms=platforms)
    return info


def _simple_images():
    """name -> (Image, extra) for every single-manifest image."""
    bb = busybox_layer()
    bbz = L.layer(busybox_entries() + [L.f("zstd-marker", "zstd\n")], "zstd")
    ml = [bb, L.layer(MULTILAYER_L2), L.layer(MULTILAYER_L3)]
    imgs = {
        "busybox": (make_image([bb]), {}),
        "multilayer": (make_image(ml), {"expect": MULTILAYER_EXPECT}),
        "dockerv2": (make_image([bb], docker=True), {}),
        "zstd": (make_image([bbz]), {}),
        "uncompressed": (make_image([busybox_layer(None)]), {}),
        "user": (make_image([bb], User="1000:1000"), {}),
        "username": (make_image([bb], User="app"), {}),
        "stopsignal": (make_image(
            [bb], StopSignal="SIGINT", Entrypoint=["/bin/sh", "-c"],
            Cmd=["echo hi"], WorkingDir="/work", Env=[PATH_ENV, "FOO=bar"],
            Labels={"org.crisp.test": "yes"}), {}),
    }
    for h in HOSTILE:
        blob = L.layer(hostile_entries(h), sort=False)
        imgs[h] = (make_image([blob]), {"hostile": True, "canaries": CANARIES})
    return imgs


@functools.lru_cache(maxsize=None)
def _built():
    return _simple_images()


def push_all(registry):
    """Push every test image; returns {short name: ImageInfo}. Short names:
    busybox multilayer dockerv2 multiarch dockerlist zstd uncompressed user
    username stopsignal and HOSTILE."""
    client, host = registry.client(), registry.host
    out = {name: push_image(client, host, name, img, extra=extra)
           for name, (img, extra) in _built().items()}
    out["multiarch"] = push_index(client, host, "multiarch")
    out["dockerlist"] = push_index(client, host, "dockerlist", docker=True)
    return out


# -- big --------------------------------------------------------------------

def big(registry, total_mb=200, layers=5, cache_dir=None):
    """Push crisp-test/big:latest: the busybox layer, then `layers` layers of
    random (incompressible) data summing ~total_mb. Blobs are cached under
    cache_dir (default: ~/.cache/crisp-testreg) across runs."""
    from .bigimage import build_random_layers
    cache_dir = cache_dir or os.path.expanduser("~/.cache/crisp-testreg")
    rand = build_random_layers(cache_dir, total_mb, layers)
    client, host, repo = registry.client(), registry.host, PREFIX + "big"
    bb = busybox_layer()
    client.push_blob(repo, bb.data)
    for b in rand:
        with open(b.path, "rb") as fh:
            client.push_blob(repo, fh, b.digest, b.size)
    descs = [bb.descriptor()] + [b.descriptor() for b in rand]
    cfg = make_config([bb] + rand)
    cblob = Blob(_json(cfg), OCI_CONFIG)
    client.push_blob(repo, cblob.data)
    body = _json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                  "config": cblob.descriptor(), "layers": descs})
    digest = client.push_manifest(repo, "latest", body, OCI_MANIFEST)
    return ImageInfo(
        name="big", repo="%s/%s" % (host, repo), tag="latest",
        manifest_digest=digest, media_type=OCI_MANIFEST,
        config_digest=cblob.digest,
        layer_digests=[x["digest"] for x in descs],
        diff_ids=cfg["rootfs"]["diff_ids"],
        layer_media_types=[x["mediaType"] for x in descs], config=cfg,
        manifest=body, resolved_digest=digest,
        extra={"total_bytes": sum(x["size"] for x in descs)})
