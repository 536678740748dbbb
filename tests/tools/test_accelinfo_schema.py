#!/usr/bin/env python3
"""accelinfo --json and --topology --format=json against docs/accelinfo.schema.json.

Usage: test_accelinfo_schema.py ACCELINFO EMULATOR MANIFEST_DIR SCHEMA

Runs accelinfo on the in-tree drivers (cpu, opencl, vulkan, fpga and
warpdrive on a uacce emulator) and validates both documents against the
schema; checks what the schema cannot (the format version, each device's
functions, the bridges' runtime and program formats); and checks that the
schema rejects documents mutated in ways a reader would trip over.

Exit status: 0 pass, 1 a check failed (named on stderr).
"""

import copy
import json
import os
import shutil
import sys
import tempfile

import jsonschema

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from toolsupport import (arguments, check, failures, load_schema, run, start_emulator,  # noqa: E402
                         uacce_roots, wait_for)


def mutations(info, topo):
    """Documents the schema must reject, each named."""
    out = []

    def mutate(name, doc, fn):
        d = copy.deepcopy(doc)
        fn(d)
        out.append((name, d))

    def dev0(d):
        return d["devices"][0]

    mutate("no format_version", info, lambda d: d.pop("format_version"))
    mutate("format_version 2.0", info, lambda d: d.update(format_version="2.0"))
    mutate("devices not an array", info, lambda d: d.update(devices={}))
    mutate("a device without functions", info, lambda d: dev0(d).pop("functions"))
    mutate("a function's standard as a string", info,
           lambda d: dev0(d).update(functions=[{"name": "crc32c", "standard": "yes"}]))
    mutate("an unknown program format", info, lambda d: dev0(d).update(program_formats=["pdf"]))
    mutate("a negative memory size", info,
           lambda d: dev0(d)["memory"].update(size=-1, size_source="driver"))
    mutate("a memory size with source unknown", info,
           lambda d: dev0(d)["memory"].update(size=4096, size_source="unknown"))
    mutate("limits without pasid_bits", info, lambda d: dev0(d)["limits"].pop("pasid_bits"))
    mutate("limits without max_queues", info, lambda d: dev0(d)["limits"].pop("max_queues"))
    mutate("max_queues as a word other than unlimited", info, lambda d: dev0(d)["limits"].update(max_queues="many"))
    mutate("a queue depth of 0", info, lambda d: dev0(d)["limits"].update(queue_depth=0))
    mutate("more function arguments than ACCEL_MAX_ARGS", info,
           lambda d: dev0(d)["limits"].update(max_function_args=33))
    mutate("an argument offset alignment of 0", info, lambda d: dev0(d)["limits"].update(arg_offset_alignment=0))
    mutate("a program size as a string", info, lambda d: dev0(d)["limits"].update(max_program_size="1 MiB"))
    mutate("an empty runtime", info, lambda d: dev0(d).update(runtime=""))
    mutate("a short uuid", info, lambda d: dev0(d).update(uuid="00"))
    mutate("a topology node of unknown kind", topo, lambda d: d["nodes"][0].update(kind="bogus"))
    mutate("a topology device without functions", topo,
           lambda d: next(n for n in d["nodes"] if n["kind"] == "device").pop("functions"))
    mutate("a topology without links", topo, lambda d: d.pop("links"))
    return out


def main():
    args = arguments(4, __doc__)
    if args is None:
        return 2
    accelinfo, emulator, manifest_dir, schema_path = args
    schema, validator = load_schema(schema_path, jsonschema.Draft202012Validator)

    root = tempfile.mkdtemp(prefix="accel-info-schema-")
    sysfs, devroot = uacce_roots(root)
    emu = start_emulator(emulator, root, "wd_s-0", "--algorithms", "crc32c")
    try:
        if not check(wait_for(os.path.join(devroot, "wd_s-0"), emu), "the uacce emulator did not start"):
            return 1
        drivers = ["cpu", "opencl", "vulkan", "fpga", "warpdrive"]
        env = {"ACCEL_DRIVER_FILES": ":".join(os.path.join(manifest_dir, "accel_%s.json" % d) for d in drivers),
               "ACCEL_UACCE_SYSFS_ROOT": sysfs, "ACCEL_UACCE_DEV_ROOT": devroot}
        docs = {}
        for name, args in (("info", ["--json"]), ("topology", ["--topology", "--format=json"])):
            r = run([accelinfo] + args, env)
            if not check(r.returncode == 0, "accelinfo %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr)):
                return 1
            docs[name] = json.loads(r.stdout)
            # Against the part of the schema for this kind of document
            # first, for errors that name the member at fault.
            part = jsonschema.Draft202012Validator(dict(schema, oneOf=[{"$ref": "#/$defs/" + name}]))
            errors = sorted(part.iter_errors(docs[name]), key=lambda e: list(e.absolute_path))
            check(validator.is_valid(docs[name]), "the %s document is valid under the whole schema" % name)
            for e in errors[:5]:
                check(False, "%s document at %s: %s" % (name, "/".join(map(str, e.absolute_path)), e.message))
            check(not errors, "the %s document validates" % name)
        info, topo = docs["info"], docs["topology"]
        check(info["format_version"] == "1.1", "format_version is 1.1, not %r" % info.get("format_version"))
        by_driver = {}
        for d in info["devices"]:
            by_driver.setdefault(d["driver"], []).append(d)
        check(set(by_driver) >= {"cpu", "fpga", "warpdrive"},
              "devices of cpu, fpga and warpdrive, got %s" % sorted(by_driver))
        # The functions are the topology's, each classified.
        topo_fns = {(n["driver"], n["driver_index"]): [f["name"] for f in n["functions"]]
                    for n in topo["nodes"] if n["kind"] == "device"}
        for d in info["devices"]:
            names = [f["name"] for f in d["functions"] or []]
            check(names == topo_fns.get((d["driver"], d["driver_index"])),
                  "%s:%d functions %s are the topology's" % (d["driver"], d["driver_index"], names))
            for f in d["functions"] or []:
                check(f["standard"] == (f["name"].split(".stream")[0] in
                                        ("accel.copy", "accel.fill", "accel.noop", "crc32c", "sha256",
                                         "zlib.deflate", "zlib.inflate")),
                      "%s classified standard=%s" % (f["name"], f["standard"]))
        cpu = by_driver["cpu"][0]
        check(any(f["name"] == "crc32c" and f["standard"] for f in cpu["functions"] or []),
              "the cpu device lists crc32c as standard")
        check(any(f["name"] == "crc32c" for f in by_driver["warpdrive"][0]["functions"] or []),
              "the warpdrive device lists the emulator's crc32c")
        # The fpga driver gives its card's banks (the card file) for the
        # card and each slot, and a buffer lives in one bank.
        banks = [n["capacity"] for n in info.get("memory_nodes", [])
                 if n.get("device") == by_driver["fpga"][0]["index"]]
        for d in by_driver["fpga"]:
            check(banks and d["memory"]["size_source"] == "driver" and d["memory"]["size"] == sum(banks)
                  and d["memory"]["max_allocation"] == max(banks),
                  "fpga device %s: its memory is its card's banks %s: %s" % (d["name"], banks, d["memory"]))
        # The limits the drivers enforce (ACCEL_DEVICE_PARAM_MAX_QUEUES and
        # after), null where a driver does not know one.
        card, slots = by_driver["fpga"][0], [d for d in by_driver["fpga"] if d.get("partition")]
        check(card["limits"]["max_queues"] == 0 and card["limits"]["max_program_size"] is None,
              "the whole fpga card runs no queue and loads no image: %s" % card["limits"])
        for d in slots:
            check(d["limits"]["max_queues"] == 1 and d["limits"]["max_program_size"] == 1 << 20
                  and d["limits"]["max_function_args"] == 32 and d["limits"]["arg_offset_alignment"] == 1,
                  "fpga slot %s: one queue, images described in 1 MiB, 32 arguments, any offset: %s"
                  % (d["name"], d["limits"]))
        check(cpu["limits"]["max_queues"] == "unlimited" and cpu["limits"]["queue_depth"] == 1024
              and cpu["limits"]["max_function_args"] == 32 and cpu["limits"]["arg_offset_alignment"] == 1
              and cpu["limits"]["max_program_size"] is None,
              "the cpu device's limits: %s" % cpu["limits"])
        check(cpu["memory"]["size_source"] == "driver" and cpu["memory"]["size"] > 0,
              "the cpu device gives the host's memory: %s" % cpu["memory"])
        wd = by_driver["warpdrive"][0]
        check(wd["limits"]["max_queues"] is None and wd["limits"]["queue_depth"] is None
              and wd["memory"]["size_source"] == "unknown",
              "the whole uacce device knows no queue count, depth or memory: %s %s" % (wd["limits"], wd["memory"]))
        check(cpu["program_formats"] == ["elf"], "the cpu device loads elf programs: %s" % cpu["program_formats"])
        check(by_driver["fpga"][0]["program_formats"] == [], "the whole fpga card loads no image")
        check(all(d["program_formats"] == ["fpga-image"] for d in by_driver["fpga"] if d.get("partition")),
              "the fpga slots load images")
        check(by_driver["warpdrive"][0]["program_formats"] == [], "the uacce engine loads no program")
        for d in info["devices"]:
            check(isinstance(d.get("physical_device"), int), "device %s has its physical device" % d["name"])
        slots = [d for d in by_driver["fpga"] if d.get("partition")]
        check(slots and all(d["physical_device"] == by_driver["fpga"][0]["physical_device"] for d in slots),
              "the fpga card's slots are its piece of hardware")
        for bridge in ("opencl", "vulkan"):
            for d in by_driver.get(bridge, []):
                check(d["runtime"] is not None, "%s device %s names its runtime" % (bridge, d["name"]))
                check(d["program_formats"], "%s device %s lists its program formats" % (bridge, d["name"]))
                check(d["memory"]["size_source"] == "driver" and d["memory"]["max_allocation"],
                      "%s device %s gives its memory and largest allocation: %s" % (bridge, d["name"], d["memory"]))
                lim = d["limits"]
                check(lim["max_queues"] == "unlimited" and lim["max_function_args"] == 32
                      and lim["arg_offset_alignment"] and lim["arg_offset_alignment"] & (lim["arg_offset_alignment"] - 1) == 0,
                      "%s device %s: queues, arguments, a power-of-two offset alignment: %s" % (bridge, d["name"], lim))
        if "opencl" in by_driver:
            check("opencl-c" in (by_driver["opencl"][0]["program_formats"] or []), "opencl takes opencl-c")
        if "vulkan" in by_driver:
            check("spirv" in (by_driver["vulkan"][0]["program_formats"] or []), "vulkan takes spirv")

        for name, doc in mutations(info, topo):
            check(not validator.is_valid(doc), "the schema accepts " + name)
    finally:
        emu.terminate()
        emu.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("accelinfo JSON: %d devices, %d topology nodes, all valid; %d mutations rejected"
          % (len(info["devices"]), len(topo["nodes"]), len(mutations(info, topo))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
