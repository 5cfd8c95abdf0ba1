"""Deterministic tar layers and content-addressed blobs.

Layers are PAX tars with fixed mtimes and owners, so the same content always
yields the same digests (images built twice share blobs byte for byte).
"""

import dataclasses
import gzip
import hashlib
import io
import subprocess
import tarfile

MTIME = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = OCI_LAYER + "+gzip"
OCI_LAYER_ZSTD = OCI_LAYER + "+zstd"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256(data):
    """'sha256:<hex>' digest of bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclasses.dataclass
class Blob:
    """One blob as pushed. diff_id is the digest of the uncompressed tar
    (layers only; equals digest for an uncompressed layer)."""
    data: bytes
    media_type: str
    diff_id: str = ""

    @property
    def digest(self):
        return sha256(self.data)

    @property
    def size(self):
        return len(self.data)

    def descriptor(self, media_type=None):
        """OCI/Docker descriptor; media_type overrides (docker vs oci)."""
        return {"mediaType": media_type or self.media_type,
                "digest": self.digest, "size": self.size}


def _info(name, kind, mode, uid=0, gid=0):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, gid, MTIME
    ti.uname = ti.gname = ""
    return ti


def d(name, mode=0o755, uid=0, gid=0):
    """Directory entry."""
    return _info(name, tarfile.DIRTYPE, mode, uid, gid), None


def f(name, data, mode=0o644, uid=0, gid=0, xattrs=None):
    """Regular file entry; xattrs become SCHILY.xattr.* PAX records."""
    if isinstance(data, str):
        data = data.encode()
    ti = _info(name, tarfile.REGTYPE, mode, uid, gid)
    ti.size = len(data)
    for k, v in (xattrs or {}).items():
        ti.pax_headers["SCHILY.xattr." + k] = v
    return ti, data


def symlink(name, target):
    ti = _info(name, tarfile.SYMTYPE, 0o777)
    ti.linkname = target
    return ti, None


def hardlink(name, target):
    ti = _info(name, tarfile.LNKTYPE, 0o644)
    ti.linkname = target
    return ti, None


def dev(name, kind, major, minor, mode=0o600):
    """Device node; kind 'c' (char) or 'b' (block)."""
    ti = _info(name, tarfile.CHRTYPE if kind == "c" else tarfile.BLKTYPE, mode)
    ti.devmajor, ti.devminor = major, minor
    return ti, None


def tar_bytes(entries, sort=True):
    """PAX tar of (TarInfo, data) entries. sort=False keeps the given order
    (hostile layers need a symlink before the file written through it)."""
    if sort:
        entries = sorted(entries, key=lambda e: e[0].name)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def compress(tar, compression):
    """Compress a tar: "gzip" (mtime 0: deterministic), "zstd" (CLI), None."""
    if compression == "gzip":
        return gzip.compress(tar, compresslevel=6, mtime=0)
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"],
                              input=tar, stdout=subprocess.PIPE,
                              check=True).stdout
    if compression is None:
        return tar
    raise ValueError("unknown compression %r" % compression)


_MEDIA = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD, None: OCI_LAYER}


def layer(entries, compression="gzip", sort=True):
    """Build a layer Blob (OCI media type) from entries."""
    tar = tar_bytes(entries, sort=sort)
    return Blob(compress(tar, compression), _MEDIA[compression], sha256(tar))
