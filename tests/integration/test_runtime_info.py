"""Status, RuntimeConfig and UpdateRuntimeConfig."""
import json

import grpc
import pytest


def conditions(status):
    return {c.type: c for c in status.status.conditions}


def test_status_conditions(client):
    st = client.call("Status")
    conds = conditions(st)
    assert conds["RuntimeReady"].status is True
    # the fixture gives every crispd a loopback-only CNI network (test_network.py has the
    # not-ready cases)
    assert conds["NetworkReady"].status is True
    assert len(st.info) == 0


def test_status_reports_the_default_handler_honestly(client):
    st = client.call("Status")
    assert [h.name for h in st.runtime_handlers] == [""]
    assert st.runtime_handlers[0].features.user_namespaces is False
    assert st.features.supplemental_groups_policy is False


def test_status_verbose_has_the_effective_config(crispd, client):
    st = client.call("Status", verbose=True)
    cfg = json.loads(st.info["config"])
    assert cfg["listen"] == str(crispd.socket)
    assert cfg["root"] == str(crispd.root)
    assert cfg["state"] == str(crispd.state)
    assert cfg["log_level"] == "debug"
    assert json.loads(st.info["runtime_config"]) == {"pod_cidr": ""}


def test_runtime_config_default_is_cgroupfs(client, ):
    from conftest import api_pb2
    rc = client.call("RuntimeConfig")
    assert rc.linux.cgroup_driver == api_pb2.CGROUPFS


def test_runtime_config_follows_the_config_file(crispd_factory):
    from conftest import api_pb2
    d = crispd_factory()
    d.config = d.dir / "crisp.json"
    d.config.write_text('{"cgroup_driver": "systemd"}')
    d.start()
    c = d.client()
    assert c.call("RuntimeConfig").linux.cgroup_driver == api_pb2.SYSTEMD
    c.close()


def pod_cidr_request(cidr):
    from conftest import api_pb2
    return api_pb2.UpdateRuntimeConfigRequest(
        runtime_config=api_pb2.RuntimeConfig(network_config=api_pb2.NetworkConfig(pod_cidr=cidr)))


def stored_pod_cidr(client):
    return json.loads(client.call("Status", verbose=True).info["runtime_config"])["pod_cidr"]


def test_update_runtime_config_stores_the_pod_cidr(client):
    client.call("UpdateRuntimeConfig", pod_cidr_request("10.244.1.0/24,fd00:1::/64"))
    assert stored_pod_cidr(client) == "10.244.1.0/24,fd00:1::/64"


def test_pod_cidr_survives_a_restart(crispd_factory):
    d = crispd_factory().start()
    c = d.client()
    c.call("UpdateRuntimeConfig", pod_cidr_request("10.88.0.0/16"))
    c.close()
    assert d.stop() == 0
    d.start()
    c = d.client()
    assert stored_pod_cidr(c) == "10.88.0.0/16"
    c.close()


@pytest.mark.parametrize("cidr", ["10.88.0.0", "10.88.0.0/33", "nonsense/8", "fd00::/200",
                                  "10.0.0.0/8,10.1.0.0/16,fd00::/64", "10.0.0.0/8,10.1.0.0/16"])
def test_bad_pod_cidr_is_invalid_argument_and_keeps_the_old_one(client, cidr):
    client.call("UpdateRuntimeConfig", pod_cidr_request("10.1.0.0/16"))
    with pytest.raises(grpc.RpcError) as e:
        client.call("UpdateRuntimeConfig", pod_cidr_request(cidr))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "pod_cidr" in e.value.details()
    assert stored_pod_cidr(client) == "10.1.0.0/16"


def test_empty_update_clears_the_pod_cidr(client):
    from conftest import api_pb2
    client.call("UpdateRuntimeConfig", pod_cidr_request("10.1.0.0/16"))
    client.call("UpdateRuntimeConfig", api_pb2.UpdateRuntimeConfigRequest())
    assert stored_pod_cidr(client) == ""
