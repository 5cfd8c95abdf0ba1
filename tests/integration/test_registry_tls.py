"""Image pulls from a registry served over https by a private CA: verified
with the registry's ca_file, refused without it, unverified when insecure
(configured, or by default on loopback), and through an https mirror."""
import json
import re
import tempfile

import grpc
import pytest

from testreg import images as testimages
from testreg.registry import Registry
from test_images import pull, status

FALLBACK = "does not speak TLS"  # crispd's log line when it drops to plain http


@pytest.fixture(scope="module")
def tls_registry():
    with tempfile.TemporaryDirectory(prefix="crisp-tlsreg-") as d:
        with Registry(d, tls=True) as reg:
            reg.images = {"busybox": testimages.push_image(
                reg.client(), reg.host, "busybox",
                testimages.make_image([testimages.busybox_layer()]))}
            yield reg


def start(crispd_factory, config):
    d = crispd_factory()
    d.config = d.dir / "crisp.json"
    d.config.write_text(json.dumps(config))
    return d, d.start().client()


def pulls(d, c, ref, info):
    assert pull(c, ref) == info.config_digest
    assert ref in status(c, ref).image.repo_tags
    assert FALLBACK not in d.log()  # the registry only speaks TLS anyway
    c.close()


def test_pull_verified_with_the_registry_ca(tls_registry, crispd_factory):
    reg, info = tls_registry, tls_registry.images["busybox"]
    d, c = start(crispd_factory, {"registries": {reg.host: {"ca_file": reg.ca_path}}})
    pulls(d, c, info.ref, info)


def test_unknown_ca_is_refused_when_not_insecure(tls_registry, crispd_factory):
    """An entry for a loopback host turns its default insecurity off."""
    reg, info = tls_registry, tls_registry.images["busybox"]
    d, c = start(crispd_factory, {"registries": {reg.host: {}}})
    with pytest.raises(grpc.RpcError) as e:
        pull(c, info.ref)
    c.close()
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
    msg = e.value.details()
    assert reg.host in msg
    assert re.search(r"certificate|SSL|TLS", msg, re.I), msg
    assert FALLBACK not in d.log()


def test_insecure_entry_pulls_over_unverified_tls(tls_registry, crispd_factory):
    reg, info = tls_registry, tls_registry.images["busybox"]
    d, c = start(crispd_factory, {"registries": {reg.host: {"insecure": True}}})
    pulls(d, c, info.ref, info)


def test_loopback_without_an_entry_is_insecure(tls_registry, crispd_factory):
    info = tls_registry.images["busybox"]
    d, c = start(crispd_factory, {})
    pulls(d, c, info.ref, info)


def test_https_mirror_for_an_air_gapped_registry(tls_registry, crispd_factory):
    reg, info = tls_registry, tls_registry.images["busybox"]
    d, c = start(crispd_factory, {"registries": {"tls.invalid": {
        "mirrors": [f"https://{reg.host}"], "upstream": False, "insecure": True}}})
    pulls(d, c, "tls.invalid/crisp-test/busybox:latest", info)


def test_https_mirror_verified_with_the_registrys_ca_file(tls_registry, crispd_factory):
    """ca_file applies to the mirrors of a mirror-only registry too."""
    reg, info = tls_registry, tls_registry.images["busybox"]
    d, c = start(crispd_factory, {"registries": {"tls.invalid": {
        "mirrors": [f"https://{reg.host}"], "upstream": False, "ca_file": reg.ca_path}}})
    pulls(d, c, "tls.invalid/crisp-test/busybox:latest", info)
