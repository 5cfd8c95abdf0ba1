"""Pod networking with real CNI plugins (Debian's containernetworking-plugins in
/usr/lib/cni): a bridge of this test run's own (name, /24 inside 10.88.0.0/16 and
host-local dataDir unique to the run), host ports through portmap, NetworkReady,
failures that leave nothing behind, and recovery after crispd dies mid-ADD.

Traffic stays on loopback, the run's bridge and the pods' namespaces. Every test
removes its pods, bridge, IP allocations and iptables rules, even on failure."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import pytest

from conftest import TEST_CGROUP_PARENT, api_pb2

CNI_BIN = Path("/usr/lib/cni")
RUN = os.getpid()
BRIDGE = f"crtest{RUN % 100000}"


def _free_subnet_octet():
    """10.88.X.0/24 with X in 100..249 from the run's pid on, skipping subnets the host
    already routes (another bridge on this machine, such as a concurrent run's)."""
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True,
                            text=True).stdout.split()
    for i in range(150):
        octet = 100 + (RUN + i) % 150
        if f"10.88.{octet}.0/24" not in routes:
            return octet
    return 100 + RUN % 150


SUBNET_OCTET = _free_subnet_octet()
SUBNET = f"10.88.{SUBNET_OCTET}.0/24"
GATEWAY = f"10.88.{SUBNET_OCTET}.1"
HOST_PORT = 20000 + RUN % 20000

pytestmark = pytest.mark.skipif(not (CNI_BIN / "bridge").exists(),
                                reason="containernetworking-plugins is not installed")

# The test plugin: passes the previous result on, and fails, hangs or refuses DEL
# when a file next to it says so.
TEST_PLUGIN = r'''#!/usr/bin/python3
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
cmd = os.environ.get("CNI_COMMAND")
conf = json.load(sys.stdin)
flag = lambda name: os.path.exists(os.path.join(here, name))
if cmd == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}))
elif cmd == "ADD":
    if flag("hang-add"):
        with open(os.path.join(here, "hang.pid"), "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
    if flag("fail-add"):
        print(json.dumps({"cniVersion": "1.0.0", "code": 7, "msg": "crisp-test refused ADD",
                          "details": "on purpose"}))
        sys.exit(1)
    print(json.dumps(conf.get("prevResult", {"cniVersion": conf["cniVersion"]})))
elif cmd == "DEL":
    if flag("fail-del"):
        print(json.dumps({"cniVersion": "1.0.0", "code": 11, "msg": "crisp-test refused DEL"}))
        sys.exit(1)
'''


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


def iptables_lines():
    """Every rule and chain of the nat and filter tables, for leak counting."""
    return [line for t in ("nat", "filter") for line in sh("iptables-save", "-t", t).splitlines()
            if line and line[0] in ":-"]


def cni_chain(net_name, pod_id, prefix=""):
    """The per-pod chain name the plugins derive (libcni's FormatChainNameWithPrefix)."""
    import hashlib
    return ("CNI-" + prefix + hashlib.sha512((net_name + pod_id).encode()).hexdigest())[:28]


def own_iptables_lines(net_name, pod_ids):
    """The rules and chains of this run's network (other runs may add their own
    meanwhile): rules naming it, and the per-pod chains of the given pods."""
    chains = {cni_chain(net_name, p, pre) for p in pod_ids for pre in ("", "DN-")}
    return [line for line in iptables_lines()
            if f'name: \\"{net_name}\\"' in line or f'"{net_name}"' in line
            or any(c in line for c in chains)]


PORTMAP_BASE = ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ")


@pytest.fixture(scope="module", autouse=True)
def host_network_state():
    """Removes what the plugins leave on the host for all pods (portmap's shared chains,
    the bridge) when this run made it."""
    had_portmap = "CNI-HOSTPORT-DNAT" in sh("iptables-save", "-t", "nat")
    yield
    sh("ip", "link", "del", BRIDGE, check=False)
    if not had_portmap:
        for chain, rule in (
                ("PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]),
                ("OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]),
                ("POSTROUTING", ["-m", "comment", "--comment", "CNI portfwd requiring masquerade",
                                 "-j", "CNI-HOSTPORT-MASQ"])):
            sh("iptables", "-t", "nat", "-D", chain, *rule, check=False)
        for chain in PORTMAP_BASE:
            sh("iptables", "-t", "nat", "-F", chain, check=False)
            sh("iptables", "-t", "nat", "-X", chain, check=False)


def purge_rules(marker):
    """Last resort after a failed test: deletes nat/filter rules mentioning marker and
    the per-container chains they jump to."""
    for table in ("nat", "filter"):
        lines = sh("iptables-save", "-t", table).splitlines()
        chains = set()
        for line in lines:
            if line.startswith("-A ") and marker in line:
                m = re.search(r" -j (CNI-[\w-]+)", line)
                if m and m.group(1) not in PORTMAP_BASE:
                    chains.add(m.group(1))
                subprocess.run(["sh", "-c", f"iptables -t {table} {line.replace('-A ', '-D ', 1)}"],
                               capture_output=True)
        for c in chains:
            sh("iptables", "-t", table, "-F", c, check=False)
            sh("iptables", "-t", table, "-X", c, check=False)


SUBNET6 = f"fd00:88:{SUBNET_OCTET:x}::/64"


def conflist(ipam_dir, extra=(), name=None, dual_stack=False):
    ranges = [[{"subnet": SUBNET}]] + ([[{"subnet": SUBNET6}]] if dual_stack else [])
    return {"cniVersion": "1.0.0", "name": name or f"crisp-test-{RUN}", "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": True,
         "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": ranges,
                  "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(ipam_dir)}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
        *[{"type": t, "capabilities": {"bandwidth": True}} if t == "bandwidth" else {"type": t}
          for t in extra],
        {"type": "loopback"}]}


class Net:
    """A crispd on the run's bridge network, with the test plugin available."""

    def __init__(self, factory, workdir, extra=(), timeout=None, dual_stack=False):
        self.conf_dir = workdir / "netconf"
        self.bin_dir = workdir / "cnibin"
        self.ipam = workdir / "ipam"
        self.conf_dir.mkdir(exist_ok=True)
        self.bin_dir.mkdir(exist_ok=True)
        plugin = self.bin_dir / "crisp-test"
        plugin.write_text(TEST_PLUGIN)
        plugin.chmod(0o755)
        self.name = f"crisp-test-{RUN}"
        (self.conf_dir / "10-test.conflist").write_text(
            json.dumps(conflist(self.ipam, extra, dual_stack=dual_stack)))
        self.d = factory("net")
        self.d.cni_conf_dir = self.conf_dir
        self.d.cni_settings = {"cni_bin_dirs": [str(self.bin_dir), str(CNI_BIN)]}
        if timeout:
            self.d.cni_settings["cni_plugin_timeout_seconds"] = timeout
        self.d.start()
        self.client = self.d.client()

    def flag(self, name, on=True):
        p = self.bin_dir / name
        p.touch() if on else p.unlink(missing_ok=True)

    def allocations(self):
        d = self.ipam / self.name
        return sorted(p.name for p in d.iterdir() if re.match(r"^[0-9a-f.:]+$", p.name)) \
            if d.exists() else []

    def veths(self):
        return sh("ip", "-o", "link", "show", "master", BRIDGE, check=False).splitlines()

    def netns_mounts(self):
        with open("/proc/self/mountinfo") as f:
            return [line for line in f if str(self.d.state) in line and "/ns/" in line]

    def records(self):
        d = self.d.state / "network"
        return sorted(os.listdir(d)) if d.exists() else []

    def cleanup(self):
        """Removes every pod through crispd; whatever that could not remove (a failed
        test) is killed and purged, so the next test starts on a clean bridge."""
        try:
            pods = self.client.call("ListPodSandbox").items
        except grpc.RpcError:
            pods = []
        for p in pods:
            for method in ("StopPodSandbox", "RemovePodSandbox"):
                try:
                    self.client.call(method, pod_sandbox_id=p.id, timeout=60)
                except grpc.RpcError:
                    pass
        self.client.close()
        self.kill_pod_processes()
        purge_rules(self.name)

    def kill_pod_processes(self):
        """Processes (our containers) still inside a netns this crispd pinned."""
        inodes = set()
        for ns in (self.d.state / "pods").glob("*/ns/net"):
            try:
                inodes.add(os.stat(ns).st_ino)
            except OSError:
                pass
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat(f"/proc/{pid}/ns/net").st_ino in inodes:
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def net(crispd_factory, workdir):
    n = Net(crispd_factory, workdir)
    yield n
    n.cleanup()


def pod_config(name="p", uid=None, hostname=None, **kw):
    linux = kw.pop("linux", None) or api_pb2.LinuxPodSandboxConfig(cgroup_parent=TEST_CGROUP_PARENT)
    return api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name=name, namespace="net-test", uid=uid or name),
        hostname=hostname or name, linux=linux, **kw)


def run_pod(client, cfg):
    return client.call("RunPodSandbox", config=cfg, timeout=60).pod_sandbox_id


def verbose_info(client, pid):
    st = client.call("PodSandboxStatus", pod_sandbox_id=pid, verbose=True)
    return json.loads(st.info["info"])


def pod_ip(client, pid):
    return client.call("PodSandboxStatus", pod_sandbox_id=pid).status.network.ip


def start_container(client, registry, pid, cfg, command, name="c"):
    client.call("PullImage", image=api_pb2.ImageSpec(image=registry.images["busybox"].ref),
                timeout=60)
    ccfg = api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name=name),
        image=api_pb2.ImageSpec(image=registry.images["busybox"].ref), command=command)
    cid = client.call("CreateContainer", pod_sandbox_id=pid, config=ccfg, sandbox_config=cfg,
                      timeout=30).container_id
    client.call("StartContainer", container_id=cid, timeout=30)
    return cid


HTTPD = ["/bin/sh", "-c", "mkdir -p /tmp/www && echo hello-from-$(hostname) > /tmp/www/index.html"
         " && exec /bin/busybox httpd -f -p 80 -h /tmp/www"]


def exec_sync(client, cid, cmd, timeout=10):
    req = api_pb2.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout)
    return client.call("ExecSync", req, timeout=60)


def http_from(client, cid, ip):
    """GET / from inside a container (busybox nc: the static busybox's wget crashes)."""
    deadline = time.monotonic() + 10
    script = f'printf "GET / HTTP/1.0\\r\\n\\r\\n" | /bin/busybox nc -w 2 {ip} 80'
    while True:
        r = exec_sync(client, cid, ["/bin/sh", "-c", script])
        if (r.exit_code == 0 and r.stdout) or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def http_get(url, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def conditions(client):
    return {c.type: c for c in client.call("Status").status.conditions}


def wait_network_ready(client, want, timeout=10):
    deadline = time.monotonic() + timeout
    while conditions(client)["NetworkReady"].status is not want:
        assert time.monotonic() < deadline, f"NetworkReady never became {want}"
        time.sleep(0.05)


def test_no_config_means_not_ready_and_a_dropped_in_conflist_flips_it(crispd_factory, workdir):
    d = crispd_factory()
    d.cni_conf_dir = workdir / "empty-net.d"
    d.cni_conf_dir.mkdir()
    d.start()
    c = d.client()
    try:
        net = conditions(c)["NetworkReady"]
        assert net.status is False and net.reason == "NetworkPluginNotReady"
        assert str(d.cni_conf_dir) in net.message
        with pytest.raises(grpc.RpcError) as e:
            run_pod(c, pod_config())
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert str(d.cni_conf_dir) in e.value.details()
        assert not list((d.state / "pods").iterdir()), "the failed pod left its directory"
        host = pod_config("hostnet", linux=api_pb2.LinuxPodSandboxConfig(
            cgroup_parent=TEST_CGROUP_PARENT,
            security_context=api_pb2.LinuxSandboxSecurityContext(
                namespace_options=api_pb2.NamespaceOption(network=api_pb2.NODE,
                                                      pid=api_pb2.CONTAINER))))
        hp = run_pod(c, host)  # a hostNetwork pod needs no CNI
        (d.cni_conf_dir / "50-bad.conflist").write_text('{"cniVersion": "1.0.0"}')
        time.sleep(0.3)
        net = conditions(c)["NetworkReady"]
        assert net.status is False and "50-bad.conflist" in net.message
        (d.cni_conf_dir / "60-lo.conflist").write_text(json.dumps(
            {"cniVersion": "1.0.0", "name": "lo", "plugins": [{"type": "loopback"}]}))
        wait_network_ready(c, True)  # no restart
        (d.cni_conf_dir / "60-lo.conflist").unlink()
        wait_network_ready(c, False)
        c.call("RemovePodSandbox", pod_sandbox_id=hp)
    finally:
        c.close()


def test_pod_gets_an_ip_on_the_bridge(net):
    cfg = pod_config("ip", hostname="ip-host")
    pid = run_pod(net.client, cfg)
    ip = pod_ip(net.client, pid)
    assert ip.startswith(f"10.88.{SUBNET_OCTET}.") and ip != GATEWAY
    assert net.allocations() == [ip]
    assert len(net.veths()) == 1
    ns = net.d.state / "pods" / pid / "ns" / "net"
    assert f"inet {ip}/24" in sh("nsenter", f"--net={ns}", "ip", "-4", "addr", "show", "eth0")
    assert f"{ip}\tip-host" in (net.d.state / "pods" / pid / "hosts").read_text()
    net.d.stop()  # the IP comes from the persisted result after a restart
    net.d.start()
    net.client.close()
    net.client = net.d.client()
    assert pod_ip(net.client, pid) == ip
    info = verbose_info(net.client, pid)  # crictl inspectp runs a CNI CHECK
    assert info["cniCheck"] == "ok"
    assert f"{ip}/24" in [i["address"] for i in info["cniResult"]["ips"]]
    sh("nsenter", f"--net={ns}", "ip", "addr", "flush", "dev", "eth0")
    assert "CNI plugin bridge CHECK failed" in verbose_info(net.client, pid)["cniCheck"]
    net.client.call("StopPodSandbox", pod_sandbox_id=pid)
    assert net.allocations() == [] and net.veths() == [] and net.records() == []
    net.client.call("StopPodSandbox", pod_sandbox_id=pid)  # idempotent
    net.client.call("RemovePodSandbox", pod_sandbox_id=pid)


def test_dual_stack_pod_has_additional_ips(crispd_factory, workdir):
    n = Net(crispd_factory, workdir, dual_stack=True)
    try:
        pid = run_pod(n.client, pod_config("dual"))
        st = n.client.call("PodSandboxStatus", pod_sandbox_id=pid).status.network
        assert st.ip.startswith(f"10.88.{SUBNET_OCTET}.")  # IPv4 is the primary
        assert [i.ip for i in st.additional_ips] == [a for a in n.allocations() if ":" in a]
        assert st.additional_ips[0].ip.startswith(SUBNET6.split("::")[0] + "::")
        n.client.call("RemovePodSandbox", pod_sandbox_id=pid)
        assert n.allocations() == [] and n.records() == []
    finally:
        n.cleanup()


def test_bandwidth_annotations_reach_the_bandwidth_plugin(crispd_factory, workdir):
    n = Net(crispd_factory, workdir, extra=("bandwidth",))
    try:
        cfg = pod_config("bw", annotations={"kubernetes.io/ingress-bandwidth": "1M",
                                            "kubernetes.io/egress-bandwidth": "2M"})
        pid = run_pod(n.client, cfg)
        host_veth = n.veths()[0].split(": ")[1].split("@")[0]
        assert "rate 1Mbit" in sh("tc", "qdisc", "show", "dev", host_veth)  # ingress: tbf
        ifbs = [line for line in sh("ip", "-o", "link").splitlines() if ": bwp" in line]
        assert len(ifbs) == 1  # egress: an ifb device of the pod's own
        n.client.call("RemovePodSandbox", pod_sandbox_id=pid)
        assert not [line for line in sh("ip", "-o", "link").splitlines()
                    if ifbs[0].split(": ")[1] in line]
        with pytest.raises(grpc.RpcError) as e:
            run_pod(n.client, pod_config("bad-bw", annotations={
                "kubernetes.io/ingress-bandwidth": "lots"}))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "kubernetes.io/ingress-bandwidth" in e.value.details()
        assert n.records() == [] and n.allocations() == []
    finally:
        n.cleanup()


def test_two_pods_reach_each_other_over_http(net, registry):
    cfgs = [pod_config(n) for n in ("web-a", "web-b")]
    pods = [run_pod(net.client, cfg) for cfg in cfgs]
    ctrs = [start_container(net.client, registry, p, cfg, HTTPD) for p, cfg in zip(pods, cfgs)]
    ips = [pod_ip(net.client, p) for p in pods]
    assert ips[0] != ips[1]
    r = http_from(net.client, ctrs[0], ips[1])
    assert r.exit_code == 0 and r.stdout.decode().endswith("\r\n\r\nhello-from-web-b\n"), r
    r = http_from(net.client, ctrs[1], ips[0])
    assert r.exit_code == 0 and r.stdout.decode().endswith("\r\n\r\nhello-from-web-a\n"), r


def test_host_port_reaches_the_container(net, registry):
    cfg = pod_config("hp", port_mappings=[
        api_pb2.PortMapping(protocol=api_pb2.TCP, container_port=80, host_port=HOST_PORT)])
    pid = run_pod(net.client, cfg)
    start_container(net.client, registry, pid, cfg, HTTPD)
    assert http_get(f"http://127.0.0.1:{HOST_PORT}/").strip() == "hello-from-hp"
    assert http_get(f"http://{GATEWAY}:{HOST_PORT}/").strip() == "hello-from-hp"
    assert any(pid in line for line in iptables_lines())
    net.client.call("StopPodSandbox", pod_sandbox_id=pid)
    assert not any(pid in line for line in iptables_lines())
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{HOST_PORT}/", timeout=1)


def test_container_port_alone_publishes_no_host_port(net, registry):
    cfg = pod_config("cp", port_mappings=[
        api_pb2.PortMapping(protocol=api_pb2.TCP, container_port=80)])
    pid = run_pod(net.client, cfg)
    start_container(net.client, registry, pid, cfg, HTTPD)
    assert http_get(f"http://{pod_ip(net.client, pid)}/").strip() == "hello-from-cp"
    assert not any(pid in line and "DNAT" in line for line in iptables_lines())
    assert not [line for line in iptables_lines() if "--dport 80 " in line and pid in line]


def test_host_network_pod_sees_the_host(net, registry):
    cfg = pod_config("hostnet", linux=api_pb2.LinuxPodSandboxConfig(
        cgroup_parent=TEST_CGROUP_PARENT,
        security_context=api_pb2.LinuxSandboxSecurityContext(
            namespace_options=api_pb2.NamespaceOption(network=api_pb2.NODE,
                                                      pid=api_pb2.CONTAINER))))
    pid = run_pod(net.client, cfg)
    assert pod_ip(net.client, pid) == "" and net.records() == [] and net.allocations() == []
    cid = start_container(net.client, registry, pid, cfg, ["/bin/sleep", "60"])
    inside = exec_sync(net.client, cid, ["/bin/cat", "/proc/net/dev"]).stdout.decode()
    names = lambda text: sorted(line.split(":")[0].strip() for line in text.splitlines()[2:])
    assert names(inside) == names(Path("/proc/net/dev").read_text())
    assert exec_sync(net.client, cid, ["/bin/hostname"]).stdout.decode().strip() == \
        socket.gethostname()


def test_dns_config_and_hostname_reach_the_container(net, registry):
    dns = api_pb2.DNSConfig(servers=["10.96.0.10", "fd00::10"],
                            searches=["net-test.svc.cluster.local", "svc.cluster.local"],
                            options=["ndots:5", "timeout:2"])
    cfg = pod_config("dns", hostname="dns-host", dns_config=dns)
    pid = run_pod(net.client, cfg)
    cid = start_container(net.client, registry, pid, cfg, ["/bin/sleep", "60"])
    resolv = exec_sync(net.client, cid, ["/bin/cat", "/etc/resolv.conf"]).stdout.decode()
    assert "nameserver 10.96.0.10\nnameserver fd00::10\n" in resolv
    assert "search net-test.svc.cluster.local svc.cluster.local\n" in resolv
    assert "options ndots:5 timeout:2\n" in resolv
    assert exec_sync(net.client, cid, ["/bin/hostname"]).stdout.decode().strip() == "dns-host"
    hosts = exec_sync(net.client, cid, ["/bin/cat", "/etc/hosts"]).stdout.decode()
    assert f"{pod_ip(net.client, pid)}\tdns-host" in hosts


def leak_counts(n, pod_ids=()):
    return {"netns": len(n.netns_mounts()), "veths": len(n.veths()),
            "ips": len(n.allocations()), "iptables": len(own_iptables_lines(n.name, pod_ids)),
            "records": len(n.records()), "pods": len(list((n.d.state / "pods").iterdir()))}


@pytest.mark.parametrize("mode", ["fail-add", "hang-add"])
def test_a_broken_plugin_fails_the_pod_and_leaves_nothing(crispd_factory, workdir, mode):
    n = Net(crispd_factory, workdir, extra=("crisp-test",), timeout=2)
    try:
        run_pod(n.client, pod_config("warm", port_mappings=[  # portmap's shared chains exist now
            api_pb2.PortMapping(protocol=api_pb2.TCP, container_port=80, host_port=HOST_PORT)]))
        n.client.call("RemovePodSandbox", pod_sandbox_id=n.client.call(
            "ListPodSandbox").items[0].id, timeout=30)
        before = leak_counts(n)
        n.flag(mode)
        cfg = pod_config("broken", port_mappings=[
            api_pb2.PortMapping(protocol=api_pb2.TCP, container_port=80, host_port=HOST_PORT)])
        with pytest.raises(grpc.RpcError) as e:
            run_pod(n.client, cfg)
        if mode == "fail-add":
            assert e.value.code() == grpc.StatusCode.INTERNAL
            assert "CNI plugin crisp-test ADD failed: crisp-test refused ADD: on purpose" in \
                e.value.details()
        else:
            assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "did not finish within 2 s" in e.value.details()
        assert leak_counts(n) == before
        assert len(n.client.call("ListPodSandbox").items) == 0
        n.flag(mode, False)
        pid = run_pod(n.client, cfg)  # the name was freed for the kubelet's retry
        assert pod_ip(n.client, pid)
    finally:
        n.cleanup()


def test_a_pod_failing_before_its_netns_is_ready_leaves_no_plugin_behind(net):
    """The first plugin is started before the netns is made; a pod that fails in between
    (here: a sysctl its namespaces do not have) kills it before it had its config and leaves
    no process, record, address or link."""
    before = leak_counts(net)
    cfg = pod_config("early")
    cfg.linux.sysctls["net.ipv4.no_such_thing"] = "1"
    with pytest.raises(grpc.RpcError) as e:
        run_pod(net.client, cfg)
    assert "no such sysctl" in e.value.details()
    assert leak_counts(net) == before
    crispd_children = []
    for tid in os.listdir(f"/proc/{net.d.proc.pid}/task"):
        with open(f"/proc/{net.d.proc.pid}/task/{tid}/children") as f:
            crispd_children += f.read().split()
    assert crispd_children == []  # no plugin left running or unreaped
    del cfg.linux.sysctls["net.ipv4.no_such_thing"]
    assert pod_ip(net.client, run_pod(net.client, cfg))  # the name was freed for a retry


def test_twenty_pods_leave_no_leak(net):
    warm = pod_config("warm", port_mappings=[  # portmap's shared chains exist from here on
        api_pb2.PortMapping(protocol=api_pb2.TCP, container_port=80, host_port=HOST_PORT)])
    net.client.call("RemovePodSandbox", pod_sandbox_id=run_pod(net.client, warm))
    before = leak_counts(net)
    pods = [run_pod(net.client, pod_config(f"churn{i}", port_mappings=[
        api_pb2.PortMapping(protocol=api_pb2.TCP, container_port=80, host_port=HOST_PORT + 1 + i)]))
        for i in range(20)]
    ips = {pod_ip(net.client, p) for p in pods}
    assert len(ips) == 20 and len(net.allocations()) == 20 and len(net.veths()) == 20
    assert len(own_iptables_lines(net.name, pods)) >= 20 * 3  # the check sees them
    for p in pods:
        net.client.call("StopPodSandbox", pod_sandbox_id=p, timeout=30)
        net.client.call("RemovePodSandbox", pod_sandbox_id=p, timeout=30)
    assert own_iptables_lines(net.name, pods) == []
    assert leak_counts(net, pods) == before


def test_stop_succeeds_when_del_fails_and_remove_retries(crispd_factory, workdir):
    n = Net(crispd_factory, workdir, extra=("crisp-test",))
    try:
        pid = run_pod(n.client, pod_config("stuck"))
        n.flag("fail-del")
        n.client.call("StopPodSandbox", pod_sandbox_id=pid)  # logged, not failed
        n.client.call("StopPodSandbox", pod_sandbox_id=pid)
        assert n.records() == [f"{pid}.json"]
        assert "crisp-test refused DEL" in n.d.log()
        n.flag("fail-del", False)
        n.client.call("RemovePodSandbox", pod_sandbox_id=pid)
        assert n.records() == [] and n.allocations() == [] and n.veths() == []
    finally:
        n.cleanup()


def test_crispd_killed_mid_add_releases_the_network_on_restart(crispd_factory, workdir):
    n = Net(crispd_factory, workdir, extra=("crisp-test",), timeout=60)
    plugin_pid = None
    try:
        n.flag("hang-add")
        def doomed_run():
            try:
                run_pod(n.client, pod_config("midadd"))
            except grpc.RpcError:
                pass  # crispd dies under it
        t = threading.Thread(target=doomed_run)
        t.start()
        pidfile = n.bin_dir / "hang.pid"
        deadline = time.monotonic() + 20
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline, "the hanging plugin never ran"
            time.sleep(0.05)
        plugin_pid = int(pidfile.read_text())
        assert len(n.allocations()) == 1 and len(n.records()) == 1  # bridge ran, then we hang
        n.d.proc.send_signal(signal.SIGKILL)
        n.d.proc.wait()
        t.join(10)
        os.kill(plugin_pid, signal.SIGKILL)
        plugin_pid = None
        n.flag("hang-add", False)
        n.d.start()
        n.client.close()
        n.client = n.d.client()
        assert n.allocations() == [] and n.records() == [] and n.veths() == []
        assert not any(n.name in line for line in iptables_lines())
        assert "pod is gone but its network attachment is not" in n.d.log()
    finally:
        if plugin_pid:
            os.kill(plugin_pid, signal.SIGKILL)
        n.cleanup()


def test_deploy_conflist_is_valid_for_crisp(crispd_factory):
    d = crispd_factory()
    d.cni_conf_dir = Path(__file__).resolve().parents[2] / "deploy" / "cni"
    d.start()
    c = d.client()
    try:
        assert conditions(c)["NetworkReady"].status is True
    finally:
        c.close()
    conf = json.loads((d.cni_conf_dir / "10-crisp-bridge.conflist").read_text())
    assert [p["type"] for p in conf["plugins"]] == ["bridge", "portmap", "loopback"]
    assert conf["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.88.0.0/16"}]]
    assert all((CNI_BIN / t).exists() for t in ("bridge", "host-local", "portmap", "loopback"))
