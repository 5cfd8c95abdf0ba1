"""A stand-in for systemd's D-Bus API (org.freedesktop.systemd1) on a private
bus, for the systemd cgroup driver's tests on a host whose PID 1 is not
systemd. It answers Subscribe, the Manager's Version property,
StartTransientUnit and StopUnit, records every call as a JSON line, and does
what systemd would to the cgroup tree: a scope's directory in every mounted
hierarchy under its slice's expanded path, the unit's PIDs moved into it, the
directory removed on stop; each job ends with a JobRemoved "done" signal.

    python3 fakesystemd.py BUS_ADDRESS RECORD_FILE READY_FILE
"""
import json
import os
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

MANAGER = "org.freedesktop.systemd1.Manager"
PATH = "/org/freedesktop/systemd1"


def slice_path(name):
    if name in ("", "-.slice"):
        return ""
    parts = name[:-len(".slice")].split("-")
    return "/".join("-".join(parts[:i + 1]) + ".slice" for i in range(len(parts)))


# The v1 controllers systemd manages; on a v1 host it leaves cpuset, freezer,
# hugetlb and the rest alone (crisp creates the scope's directory there itself).
SYSTEMD_V1 = {"cpu", "cpuacct", "memory", "pids", "blkio", "devices"}


def cgroup_mounts():
    """The hierarchies systemd would place a scope in."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, superopts = fields[sep + 1], set(fields[sep + 3].split(","))
            if fstype == "cgroup2" or (fstype == "cgroup" and superopts & SYSTEMD_V1):
                yield fields[4]


def plain(v):
    """dbus types to JSON: byte arrays as lists of ints."""
    if isinstance(v, (dbus.Array, list)):
        return [plain(x) for x in v]
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, (dbus.String, dbus.ObjectPath)):
        return str(v)
    return int(v)


def cmdline(pid):
    """The process's argv as it is when systemd would take it over ([] once gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


class Manager(dbus.service.Object):
    def __init__(self, bus, record):
        super().__init__(bus, PATH)
        self.record = record
        self.units = {}  # unit -> [dirs]
        self.jobs = 0

    def log(self, **entry):
        with open(self.record, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def job(self, unit):
        self.jobs += 1
        path = f"{PATH}/job/{self.jobs}"
        GLib.idle_add(lambda: self.JobRemoved(self.jobs, path, unit, "done") and False)
        return dbus.ObjectPath(path)

    @dbus.service.signal(MANAGER, signature="uoss")
    def JobRemoved(self, job_id, job, unit, result):
        pass

    @dbus.service.method(MANAGER, in_signature="", out_signature="")
    def Subscribe(self):
        pass

    @dbus.service.method(MANAGER, in_signature="ssa(sv)a(sa(sv))", out_signature="o")
    def StartTransientUnit(self, name, mode, props, aux):
        p = {str(k): plain(v) for k, v in props}
        self.log(method="StartTransientUnit", unit=str(name), mode=str(mode), props=p,
                 cmdlines=[cmdline(pid) for pid in p.get("PIDs", [])])
        rel = "/".join(x for x in (slice_path(p.get("Slice", "")), str(name)) if x)
        dirs = []
        for mount in cgroup_mounts():
            d = os.path.join(mount, rel)
            os.makedirs(d, exist_ok=True)
            dirs.append(d)
            for pid in p.get("PIDs", []):
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
        self.units[str(name)] = dirs
        return self.job(str(name))

    @dbus.service.method(MANAGER, in_signature="ss", out_signature="o")
    def StopUnit(self, name, mode):
        self.log(method="StopUnit", unit=str(name), mode=str(mode))
        if str(name) not in self.units:
            raise dbus.exceptions.DBusException(
                f"Unit {name} not loaded.", name="org.freedesktop.systemd1.NoSuchUnit")
        for d in self.units.pop(str(name)):
            try:
                os.rmdir(d)
            except OSError:
                pass
        return self.job(str(name))

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, interface, prop):
        if interface == MANAGER and prop == "Version":
            return "252-fake"
        raise dbus.exceptions.DBusException(
            f"no property {prop}", name="org.freedesktop.DBus.Error.UnknownProperty")


def main():
    address, record, ready = sys.argv[1:4]
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(address)
    name = dbus.service.BusName("org.freedesktop.systemd1", bus)
    Manager(bus, record)
    with open(ready, "w") as f:
        f.write("ready\n")
    GLib.MainLoop().run()
    del name


if __name__ == "__main__":
    main()
