#!/usr/bin/env python3
"""accelinfo --cdi read by podman, the container engine Debian ships.

Usage: test_cdi_podman.py ACCELINFO EMULATOR MANIFEST_DIR

A uacce emulator (its node a socket) and a uacce device whose node is a
character device (a link to /dev/null beside a copy of the emulator's sysfs
entry), with the cpu driver; accelinfo --cdi writes the spec into
/var/run/cdi (podman 4.3 reads only /etc/cdi and /var/run/cdi), and podman,
with a storage of its own under a temporary directory and an image imported
from busybox (nothing is pulled), creates containers that ask for devices
by name. `podman create` resolves the names against the spec (an unknown
name must fail); `podman init` writes the container's OCI configuration
with the spec's edits applied, which is checked: the requested device
nodes, the emulator socket and the drivers' files mounted, nothing of a
device that was not asked for. (Where the kernel refuses the runtime its
rlimits or cgroups, as in some sandboxes, `init` fails after writing the
configuration; the checks read the configuration either way.)

Exit status: 0 pass, 1 a check failed (named on stderr), 77 skipped: not
root, or podman or a static busybox missing.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from toolsupport import (arguments, char_device_beside, check, failures, run, start_emulator,  # noqa: E402
                         uacce_roots, wait_for)

SKIP = 77


def busybox_image(root):
    """A root file system of a static busybox, as a tar podman imports."""
    bb = shutil.which("busybox")
    if not bb:
        return None
    out = run([bb, "--help"])
    if "BusyBox" not in out.stdout + out.stderr or run(["ldd", bb]).returncode == 0:
        return None  # not a static busybox: it would need the host's libraries
    rootfs = os.path.join(root, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    for d in ("dev", "proc", "sys", "etc", "tmp"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy(bb, os.path.join(rootfs, "bin", "busybox"))
    tar = os.path.join(root, "rootfs.tar")
    with tarfile.open(tar, "w") as t:
        t.add(rootfs, arcname=".")
    return tar


def main():
    args = arguments(3, __doc__)
    if args is None:
        return 2
    accelinfo, emulator, manifest_dir = args
    podman = shutil.which("podman")
    if os.geteuid() != 0 or not podman:
        print("skipped: %s" % ("not root" if os.geteuid() != 0 else "no podman"), file=sys.stderr)
        return SKIP
    root = tempfile.mkdtemp(prefix="accel-cdi-podman-")
    tar = busybox_image(root)
    if not tar:
        print("skipped: no static busybox to make an image of", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
        return SKIP
    pod = [podman, "--root", os.path.join(root, "storage"), "--runroot", os.path.join(root, "run"),
           "--storage-driver", "vfs"]
    spec_path = "/var/run/cdi/accel-loader-test-%d.json" % os.getpid()
    sysfs, devroot = uacce_roots(root)
    emu = None
    try:
        emu = start_emulator(emulator, root, "wd_a-0", "--sva", "--instances", "2", "--algorithms", "crc32c")
        if not check(wait_for(os.path.join(devroot, "wd_a-0"), emu), "the emulator did not start"):
            return 1
        char_device_beside(root, "wd_a-0", "wd_c-0")
        env = {"ACCEL_DRIVER_FILES": os.path.join(manifest_dir, "accel_cpu.json") + ":" +
               os.path.join(manifest_dir, "accel_warpdrive.json"),
               "ACCEL_UACCE_SYSFS_ROOT": sysfs, "ACCEL_UACCE_DEV_ROOT": devroot}
        r = run([accelinfo, "--cdi"], env)
        if not check(r.returncode == 0, "accelinfo --cdi: " + r.stderr):
            return 1
        spec = json.loads(r.stdout)
        os.makedirs(os.path.dirname(spec_path), exist_ok=True)
        with open(spec_path, "w") as f:
            f.write(r.stdout)
        kind = spec["kind"]
        by_node = {}
        for d in spec["devices"]:
            for n in d.get("containerEdits", {}).get("deviceNodes", []):
                by_node.setdefault(d["name"], []).append(n["path"])
            for m in d.get("containerEdits", {}).get("mounts", []):
                if m["hostPath"] == os.path.join(devroot, "wd_a-0"):
                    by_node.setdefault(d["name"], []).append(m["hostPath"])
        socket_dev = [n for n, p in by_node.items() if p == [os.path.join(devroot, "wd_a-0")]]
        char_dev = [n for n, p in by_node.items() if p == [os.path.join(devroot, "wd_c-0")]]
        if not check(socket_dev and char_dev, "the spec has no device for each uacce node: %s" % by_node):
            return 1

        r = run(pod + ["import", tar, "localhost/accel-cdi-test:1"])
        if not check(r.returncode == 0, "podman import: " + r.stderr):
            return 1

        def container(name, devices):
            args = pod + ["create", "--name", name, "--network=none"]
            for d in devices:
                args += ["--device", "%s=%s" % (kind, d)]
            r = run(args + ["localhost/accel-cdi-test:1", "/bin/busybox", "true"])
            if r.returncode != 0:
                return None, r.stderr.strip()
            cid = r.stdout.strip().splitlines()[-1]
            init = run(pod + ["init", name])  # writes config.json, then may fail in a sandbox
            cfgs = glob.glob(os.path.join(root, "storage", "*-containers", cid, "userdata", "config.json"))
            if not cfgs:
                return None, "podman init %s: %s" % (name, init.stderr.strip())
            with open(cfgs[0]) as f:
                return json.load(f), ""

        def edits_of(cfg):
            nodes = [d["path"] for d in cfg.get("linux", {}).get("devices", []) or []]
            mounts = {m["destination"]: m for m in cfg.get("mounts", [])}
            envs = [e for e in cfg.get("process", {}).get("env", []) if e.startswith("ACCEL_")]
            return nodes, mounts, envs

        char_spec = next(d for d in spec["devices"] if d["name"] == char_dev[0])
        drivers = [m["hostPath"] for m in char_spec["containerEdits"].get("mounts", [])
                   if m["hostPath"].endswith((".json", ".so"))]
        check(drivers, "the spec mounts no manifest or driver library for %s" % char_dev[0])

        # One device by index name: its node only, and the drivers' files.
        cfg, err = container("one", [char_dev[0]])
        if check(cfg is not None, "podman refused the %s device: %s" % (char_dev[0], err)):
            nodes, mounts, _ = edits_of(cfg)
            check(os.path.join(devroot, "wd_c-0") in nodes, "the char device's node is not in the container: %s" % nodes)
            check(os.path.join(devroot, "wd_a-0") not in mounts, "a device not asked for is mounted")
            for p in drivers:
                check(p in mounts and "ro" in mounts[p].get("options", []), "%s not mounted read-only: %s" % (p, mounts.get(p)))

        # Two devices: the edits combine.
        cfg, err = container("two", [char_dev[0], socket_dev[0]])
        if check(cfg is not None, "podman refused two devices: %s" % err):
            nodes, mounts, _ = edits_of(cfg)
            check(os.path.join(devroot, "wd_c-0") in nodes, "two devices: the char device's node is missing")
            check(os.path.join(devroot, "wd_a-0") in mounts, "two devices: the emulator socket is not mounted")

        # "all" gives every node.
        cfg, err = container("all", ["all"])
        if check(cfg is not None, "podman refused the all device: %s" % err):
            nodes, mounts, _ = edits_of(cfg)
            check(os.path.join(devroot, "wd_c-0") in nodes and os.path.join(devroot, "wd_a-0") in mounts,
                  "all: not every device node is given")

        # A name the spec does not have is refused.
        cfg, err = container("none", ["no-such-device"])
        check(cfg is None and "no-such-device" in err, "podman accepted a device the spec does not name: " + err)
    finally:
        if emu:
            emu.terminate()
            emu.wait()
        try:
            os.unlink(spec_path)
        except OSError:
            pass
        run(pod + ["rm", "-a", "-f"])
        run(pod + ["rmi", "-a", "-f"])
        subprocess.run(["umount", "-R", os.path.join(root, "storage")], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    print("%d check(s) failed" % len(failures) if failures else "podman accepted the spec and applied its edits",
          file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
