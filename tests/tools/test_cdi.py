#!/usr/bin/env python3
"""accelinfo --cdi against the CDI rules container engines apply.

Usage: test_cdi.py ACCELINFO EMULATOR MANIFEST_DIR SCHEMA

Three uacce devices: two uacce emulators (sockets) and one whose node is a
character device (a link to /dev/null beside a copy of an emulator's sysfs
entry), with the cpu driver. The spec must validate against SCHEMA, carry
the lowest cdiVersion for the fields it uses, name every device by index
and by uuid plus "all", give device nodes only for character and block
devices, mount the emulator sockets and the drivers' files, and combine
correctly when a container asks for two devices: the merged edits, applied
to a simulated container (a /dev holding only what the edits give and only
the mounted manifests), show exactly the requested devices. Without any
device node accelinfo writes no spec and exits 1.

Exit status: 0 pass, 1 a check failed (named on stderr).
"""

import json
import os
import re
import shutil
import stat
import sys
import tempfile

import jsonschema

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import toolsupport  # noqa: E402
from toolsupport import (arguments, char_device_beside, check, failures, load_schema,  # noqa: E402
                         start_emulator, uacce_roots, wait_for)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def min_version(spec):
    """The lowest cdiVersion for the fields used, by the rules of CDI's
    reference implementation (MinimumRequiredVersion)."""
    edits = [d.get("containerEdits", {}) for d in spec["devices"]] + [spec.get("containerEdits", {})]
    cls = spec["kind"].split("/", 1)[1] if "/" in spec["kind"] else ""
    if spec.get("annotations") or any(d.get("annotations") for d in spec["devices"]) or "." in cls:
        return "0.6.0"
    if any(not d["name"][:1].isalpha() for d in spec["devices"]) or any(
        n.get("hostPath") for e in edits for n in e.get("deviceNodes", [])
    ):
        return "0.5.0"
    if any(m.get("type") for e in edits for m in e.get("mounts", [])):
        return "0.4.0"
    return "0.3.0"


def merge(devices):
    """The container edits of several devices merged as CDI does: env by
    name (a later one replaces an earlier one), mounts by containerPath,
    device nodes by path. Returns (edits, env names set twice differently)."""
    env, mounts, nodes, conflicts = {}, {}, {}, []
    for d in devices:
        e = d["containerEdits"]
        for v in e.get("env", []):
            k, val = v.split("=", 1)
            if k in env and env[k] != val:
                conflicts.append(k)
            env[k] = val
        for m in e.get("mounts", []):
            mounts[m["containerPath"]] = m
        for n in e.get("deviceNodes", []):
            nodes[n["path"]] = n
    return {"env": env, "mounts": list(mounts.values()), "deviceNodes": list(nodes.values())}, conflicts


def run(args, env):
    return toolsupport.run(args, env, timeout=60)


def device_names(accelinfo, env):
    r = run([accelinfo, "--json"], env)
    if not check(r.returncode == 0, "accelinfo --json in the simulated container: " + r.stderr):
        return None
    return sorted(d["name"].split(" ")[0] for d in json.loads(r.stdout)["devices"])


def in_container(accelinfo, root, sysfs, edits, name):
    """Apply merged edits to a simulated container: a /dev with a link for
    each device node and mounted socket, and the mounted manifests as the
    only ones; the device names the loader then sees."""
    dev = os.path.join(root, "container-" + name)
    os.mkdir(dev)
    given = [n["path"] for n in edits["deviceNodes"]]
    given += [m["hostPath"] for m in edits["mounts"] if stat.S_ISSOCK(os.stat(m["hostPath"]).st_mode)]
    for p in given:
        os.symlink(p, os.path.join(dev, os.path.basename(p)))
    manifests = [m["containerPath"] for m in edits["mounts"] if m["containerPath"].endswith(".json")]
    env = {"ACCEL_DRIVER_FILES": ":".join(manifests), "ACCEL_UACCE_SYSFS_ROOT": sysfs, "ACCEL_UACCE_DEV_ROOT": dev}
    return device_names(accelinfo, env)


def main():
    args = arguments(4, __doc__)
    if args is None:
        return 2
    accelinfo, emulator, manifest_dir, schema_path = args
    _, validator = load_schema(schema_path, jsonschema.Draft7Validator)

    # The schema must be able to fail.
    bad = [
        {"cdiVersion": "0.5.0", "kind": "accel-loader.dev/device", "devices": []},
        {"cdiVersion": "0.5.0", "kind": "accel-loader.dev/device",
         "devices": [{"name": "-x", "containerEdits": {"env": ["A=1"]}}]},
        {"cdiVersion": "0.5.0", "kind": "accel-loader.dev/device",
         "devices": [{"name": "x", "containerEdits": {"deviceNodes": [{"type": "c"}]}}]},
    ]
    for b in bad:
        check(not validator.is_valid(b), "the schema accepts " + json.dumps(b))

    root = tempfile.mkdtemp(prefix="accel-cdi-")
    sysfs, devroot = uacce_roots(root)
    emulators = []
    try:
        for name in ("wd_a-0", "wd_b-0"):
            p = start_emulator(emulator, root, name, "--sva", "--instances", "2", "--algorithms", "crc32c")
            emulators.append(p)
            if not check(wait_for(os.path.join(devroot, name), p), "emulator %s did not start" % name):
                return 1
        char_device_beside(root, "wd_a-0", "wd_c-0")

        cpu = os.path.join(manifest_dir, "accel_cpu.json")
        wd = os.path.join(manifest_dir, "accel_warpdrive.json")
        env = {"ACCEL_DRIVER_FILES": cpu + ":" + wd, "ACCEL_UACCE_SYSFS_ROOT": sysfs, "ACCEL_UACCE_DEV_ROOT": devroot}
        info = run([accelinfo, "--json"], env)
        r = run([accelinfo, "--cdi"], env)
        if not check(r.returncode == 0 and info.returncode == 0, "accelinfo --cdi: " + r.stderr + info.stderr):
            return 1
        spec = json.loads(r.stdout)
        host = json.loads(info.stdout)["devices"]

        for e in validator.iter_errors(spec):
            check(False, "schema: %s at %s" % (e.message, list(e.absolute_path)))
        check(spec["cdiVersion"] == min_version(spec),
              "cdiVersion %s, but the fields used need %s" % (spec["cdiVersion"], min_version(spec)))
        by_name = {d["name"]: d for d in spec["devices"]}
        check(len(by_name) == len(spec["devices"]), "device names are not unique")
        for n in by_name:
            check(NAME.match(n) is not None, "device name %r breaks CDI's name rules" % n)
        check("all" in by_name, "no device 'all'")

        # Each device with a node, by index and by uuid, with its node; the
        # cpu device has none and is not listed on its own.
        for h in host:
            has_node = bool(h.get("device_node"))
            for n in (str(h["index"]), h["uuid"]):
                if not check((n in by_name) == has_node, "device %s listed: %s" % (n, n in by_name)):
                    continue
                if not has_node:
                    continue
                e = by_name[n]["containerEdits"]
                node = h["device_node"]
                is_sock = stat.S_ISSOCK(os.stat(node).st_mode)
                check(not e.get("env"), "device %s sets environment variables %s" % (n, e.get("env")))
                nodes = [x["path"] for x in e.get("deviceNodes", [])]
                mounts = {m["containerPath"]: m for m in e.get("mounts", [])}
                if is_sock:
                    check(node not in nodes and node in mounts, "emulator socket %s of %s not a mount" % (node, n))
                else:
                    check(nodes == [node], "device %s: deviceNodes %s, expected [%s]" % (n, nodes, node))
                check(os.path.realpath(wd) in {os.path.realpath(p) for p in mounts},
                      "device %s does not mount the warpdrive manifest" % n)
        check(not any(h.get("device_node") for h in host) or len(spec["devices"]) ==
              1 + 2 * sum(1 for h in host if h.get("device_node")), "unexpected devices in the spec")

        for d in spec["devices"]:
            e = d["containerEdits"]
            for n in e.get("deviceNodes", []):
                st = os.stat(n.get("hostPath", n["path"]))
                check(n.get("type") in ("c", "b") and (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)),
                      "%s: deviceNode %s is not a character or block device with its type" % (d["name"], n))
            for m in e.get("mounts", []):
                check(os.path.isabs(m["hostPath"]) and m["hostPath"] == m["containerPath"] and
                      "bind" in m.get("options", []), "%s: mount %s" % (d["name"], m))
                if os.path.isfile(m["hostPath"]):
                    check("ro" in m["options"], "%s: driver file mounted writable: %s" % (d["name"], m))

        # Two devices asked for at once (one socket, one node): both seen,
        # nothing else; "all" gives every device.
        a, c = (next(h for h in host if h["name"].startswith(x)) for x in ("wd_a-0", "wd_c-0"))
        edits, conflicts = merge([by_name[str(a["index"])], by_name[c["uuid"]]])
        check(not conflicts, "variables set differently by two devices: %s" % conflicts)
        seen = in_container(accelinfo, root, sysfs, edits, "two")
        check(seen == ["wd_a-0", "wd_c-0"], "devices a and c asked for; the container sees %s" % seen)
        edits, _ = merge([by_name["all"]])
        seen = in_container(accelinfo, root, sysfs, edits, "all")
        check(seen == sorted(h["name"].split(" ")[0] for h in host), "'all' gives the container %s" % seen)

        # No device with a node: no spec, exit 1, a reason.
        r = run([accelinfo, "--cdi"], {"ACCEL_DRIVER_FILES": cpu})
        check(r.returncode == 1 and r.stdout == "" and "no device has a device node" in r.stderr,
              "with only the cpu device: status %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr))
    finally:
        for p in emulators:
            p.kill()
            p.wait()
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
