"""Large random-data layers for benchmarks, streamed to disk and cached.

Random data does not compress, so a layer's blob is about as big as its tar.
A cache entry is a directory big-<MB>mb-<N>/ with the layer files and a
meta.json written last; a half-built entry is never seen (built in a temp dir
and renamed into place).
"""

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import tarfile
import tempfile

from .layers import MTIME, OCI_LAYER_GZIP

MIB = 1 << 20


@dataclasses.dataclass
class FileBlob:
    """A layer blob stored in a file."""
    path: str
    digest: str
    size: int
    diff_id: str
    media_type: str = OCI_LAYER_GZIP

    def descriptor(self):
        return {"mediaType": self.media_type, "digest": self.digest,
                "size": self.size}


class _HashWriter:
    """File-like sink that hashes and counts what passes through."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        self.f.write(b)
        return len(b)

    def flush(self):
        pass

    @property
    def digest(self):
        return "sha256:" + self.h.hexdigest()


class _Random:
    """Readable source of n random bytes."""

    def __init__(self, n):
        self.left = n

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def _write_layer(path, idx, size):
    """Stream tar -> gzip -> file; returns a FileBlob."""
    with open(path, "wb") as raw:
        zsink = _HashWriter(raw)
        with gzip.GzipFile(filename="", mode="wb", compresslevel=1, mtime=0,
                           fileobj=zsink) as gz:
            tsink = _HashWriter(gz)
            with tarfile.open(fileobj=tsink, mode="w|",
                              format=tarfile.PAX_FORMAT) as tf:
                ti = tarfile.TarInfo("big/blob%d.bin" % idx)
                ti.size, ti.mtime, ti.mode = size, MTIME, 0o644
                tf.addfile(ti, _Random(size))
    return FileBlob(path, zsink.digest, zsink.n, tsink.digest)


def _load(entry):
    try:
        with open(os.path.join(entry, "meta.json")) as fh:
            meta = json.load(fh)
        blobs = [FileBlob(os.path.join(entry, m["file"]), m["digest"],
                          m["size"], m["diff_id"]) for m in meta]
    except (OSError, ValueError, KeyError):
        return None
    ok = all(os.path.isfile(b.path) and os.path.getsize(b.path) == b.size
             for b in blobs)
    return blobs if ok else None


def build_random_layers(cache_dir, total_mb, layers):
    """FileBlobs of `layers` random layers summing ~total_mb MiB, from the
    cache when present."""
    entry = os.path.join(cache_dir, "big-%dmb-%d" % (total_mb, layers))
    blobs = _load(entry)
    if blobs:
        return blobs
    os.makedirs(cache_dir, exist_ok=True)
    shutil.rmtree(entry, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix=".building-", dir=cache_dir)
    try:
        size = max(1, total_mb * MIB // layers)
        meta = []
        for i in range(layers):
            b = _write_layer(os.path.join(tmp, "layer%d.tar.gz" % i), i, size)
            meta.append({"file": os.path.basename(b.path), "digest": b.digest,
                         "size": b.size, "diff_id": b.diff_id})
        with open(os.path.join(tmp, "meta.json"), "w") as fh:
            json.dump(meta, fh)
        os.rename(tmp, entry)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if _load(entry) is None:  # lost a race with another builder?
            raise
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return _load(entry)
