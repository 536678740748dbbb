#!/usr/bin/env python3
"""Validate accel-loader driver manifests against the JSON Schema.

Usage:
  check-schema.py [--expect-invalid] SCHEMA FILE...
  check-schema.py --self-test [--accelinfo PATH] SCHEMA

The first form checks every FILE and names each one that is invalid. With
--expect-invalid the sense is reversed: every FILE must be rejected (for
corpora of bad manifests).

--self-test checks the schema against built-in manifests whose verdict is
known. With --accelinfo, each one is also given to the loader (through
accelinfo --json and ACCEL_DRIVER_FILES) to confirm that the schema and the
loader's parser agree.

Besides the schema, the checks the loader makes on the file itself are
applied: at most 1 MiB, no NUL byte, strict JSON with only whitespace after
the value, at most 64 levels of nesting.

Exit status: 0 all as expected, 1 a file was not (each is named on stderr),
2 usage error, unusable schema or missing python3-jsonschema.
"""

import json
import os
import struct
import subprocess
import sys
import tempfile

MAX_SIZE = 1 << 20  # ACCEL_MANIFEST_MAX_SIZE in loader/manifest.h
MAX_DEPTH = 64      # the json-c tokener depth the loader uses

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:
    sys.stderr.write("check-schema.py: the Python jsonschema module (>= 4.0) is required "
                     "(Debian: apt-get install python3-jsonschema)\n")
    sys.exit(2)


class Invalid(Exception):
    pass


def depth(value):
    """Nesting depth counting the value itself (a scalar is 0)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            children = v.values()
        elif isinstance(v, list):
            children = v
        else:
            continue
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in children)
    return deepest


def where(path):
    out = ""
    for p in path:
        out += "[%d]" % p if isinstance(p, int) else ("." if out else "") + str(p)
    return out or "top level"


def check_bytes(validator, data):
    """Raise Invalid with a one-line reason if the loader would not accept data."""
    if len(data) > MAX_SIZE:
        raise Invalid("file too large (%d bytes; the limit is %d)" % (len(data), MAX_SIZE))
    if b"\0" in data:
        raise Invalid("not JSON: the file contains a NUL byte")
    # The loader does not check UTF-8; keep undecodable bytes as they are.
    text = data.decode("utf-8", errors="surrogateescape")
    try:
        # strict=False: the loader accepts raw control characters in strings.
        doc = json.loads(text, strict=False)
    except ValueError as e:
        raise Invalid("not JSON: %s" % e)
    if depth(doc) > MAX_DEPTH:
        raise Invalid("not JSON: nesting deeper than %d levels" % MAX_DEPTH)
    errors = sorted(validator.iter_errors(doc),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        e = errors[0]
        more = " (and %d more)" % (len(errors) - 1) if len(errors) > 1 else ""
        raise Invalid("%s: %s%s" % (where(e.absolute_path), e.message, more))


def load_validator(schema_path):
    try:
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
        sys.stderr.write("check-schema.py: %s: unusable schema: %s\n"
                         % (schema_path, str(e).splitlines()[0]))
        sys.exit(2)
    return Draft202012Validator(schema)


def check_files(validator, files, expect_invalid):
    failed = 0
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_SIZE + 1)
        except OSError as e:
            sys.stderr.write("%s: cannot read: %s\n" % (path, e.strerror))
            failed += 1
            continue
        try:
            check_bytes(validator, data)
            if expect_invalid:
                sys.stderr.write("%s: accepted, but expected to be invalid\n" % path)
                failed += 1
            else:
                print("%s: valid" % path)
        except Invalid as e:
            if expect_invalid:
                print("%s: rejected as expected: %s" % (path, e))
            else:
                sys.stderr.write("%s: invalid: %s\n" % (path, e))
                failed += 1
    return 1 if failed else 0


# ---- self-test -------------------------------------------------------------

ARCH = "%d" % (struct.calcsize("P") * 8)
OTHER_ARCH = "32" if ARCH == "64" else "64"
LIB = "/nonexistent/accel-schema-test/libaccel_x.so"


def manifest(fmt='"1.0.0"', top_extra="", **drv):
    fields = {"name": '"x"', "library_path": '"%s"' % LIB, "api_version": '"0.1"'}
    fields.update(drv)
    body = ", ".join('"%s": %s' % (k, v) for k, v in fields.items() if v is not None)
    return ('{"file_format_version": %s, "driver": {%s}%s}\n' % (fmt, body, top_extra)).encode()


# (label, bytes, valid). Valid cases use this process's word size and an API
# major of 0 so that the loader gets past the checks the schema cannot make
# and then fails only to load the (missing) library.
CASES = [
    ("minimal", manifest(), True),
    ("all members", manifest(library_arch='"%s"' % ARCH, device_kinds='["cpu", "gpu", "fpga", "asic"]'),
     True),
    ("format without patch", manifest(fmt='"1.0"'), True),
    ("newer minor, unknown members", manifest(fmt='"1.7.2"', top_extra=', "x-vendor": {"a": [1, null]}',
                                              future='{"k": true}'), True),
    ("leading zeros", manifest(fmt='"01.00.000"', api_version='"000.65535.9"'), True),
    ("bare library name", manifest(library_path='"libaccel_x.so.1"'), True),
    ("relative library path", manifest(library_path='"../lib/libaccel_x.so"'), True),
    ("name of 64 characters", manifest(name='"%s"' % ("N" * 64)), True),
    ("name with . _ -", manifest(name='"acme_gpu-2.x"'), True),
    ("empty device_kinds", manifest(device_kinds="[]"), True),
    ("repeated device kind", manifest(device_kinds='["gpu", "gpu"]'), True),
    ("raw tab in a string", manifest(top_extra=', "note": "a\tb"'), True),
    ("nesting of 64 levels", manifest(top_extra=', "deep": ' + "[" * 63 + "]" * 63), True),
    ("not an object", b'["file_format_version"]', False),
    ("empty file", b"", False),
    ("trailing comma", manifest(top_extra=","), False),
    ("comment", b"/* x */" + manifest(), False),
    ("trailing data", manifest() + b"x", False),
    ("byte order mark", b"\xef\xbb\xbf" + manifest(), False),
    ("NUL byte", manifest()[:-1] + b"\0", False),
    ("nesting of 65 levels", manifest(top_extra=', "deep": ' + "[" * 64 + "]" * 64), False),
    ("too large", manifest(top_extra=', "pad": "%s"' % ("x" * MAX_SIZE)), False),
    ("file_format_version missing",
     b'{"driver": {"name": "x", "library_path": "l", "api_version": "0.1"}}', False),
    ("file_format_version a number", manifest(fmt="1.0"), False),
    ("file_format_version major 2", manifest(fmt='"2.0.0"'), False),
    ("file_format_version major 0", manifest(fmt='"0.9.0"'), False),
    ("file_format_version one number", manifest(fmt='"1"'), False),
    ("file_format_version four numbers", manifest(fmt='"1.0.0.0"'), False),
    ("file_format_version minor > 65535", manifest(fmt='"1.65536.0"'), False),
    ("file_format_version with newline", manifest(fmt='"1.0.0\\n"'), False),
    ("file_format_version with suffix", manifest(fmt='"1.0.0-rc1"'), False),
    ("driver missing", b'{"file_format_version": "1.0.0"}', False),
    ("driver an array", b'{"file_format_version": "1.0.0", "driver": []}', False),
    ("name missing", manifest(name=None), False),
    ("name empty", manifest(name='""'), False),
    ("name a number", manifest(name="7"), False),
    ("name with a space", manifest(name='"my driver"'), False),
    ("name with a slash", manifest(name='"a/b"'), False),
    ("name of 65 characters", manifest(name='"%s"' % ("N" * 65)), False),
    ("name with newline", manifest(name='"x\\n"'), False),
    ("library_path missing", manifest(library_path=None), False),
    ("library_path empty", manifest(library_path='""'), False),
    ("library_path with NUL", manifest(library_path='"/a\\u0000b"'), False),
    ("library_path null", manifest(library_path="null"), False),
    ("api_version missing", manifest(api_version=None), False),
    ("api_version one number", manifest(api_version='"1"'), False),
    ("api_version a number", manifest(api_version="0.1"), False),
    ("api_version > 65535", manifest(api_version='"0.70000"'), False),
    ("library_arch x86_64", manifest(library_arch='"x86_64"'), False),
    ("library_arch a number", manifest(library_arch="64"), False),
    ("library_arch of the other word size", manifest(library_arch='"%s"' % OTHER_ARCH),
     "incompatible"),
    ("device_kinds a string", manifest(device_kinds='"cpu"'), False),
    ("device_kinds unknown kind", manifest(device_kinds='["tpu"]'), False),
    ("device_kinds upper case", manifest(device_kinds='["GPU"]'), False),
    ("device_kinds a number", manifest(device_kinds="[1]"), False),
]


def loader_verdict(accelinfo, tmp, label, data):
    """(accepted by the parser?, detail) from accelinfo --json."""
    d = tempfile.mkdtemp(dir=tmp)
    path = os.path.join(d, "m.json")
    with open(path, "wb") as f:
        f.write(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCEL_")}
    env["ACCEL_DRIVER_FILES"] = path
    p = subprocess.run([accelinfo, "--json"], env=env, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise Invalid("accelinfo exited with %d: %s"
                      % (p.returncode, p.stderr.decode(errors="replace").strip()))
    m = json.loads(p.stdout)["manifests"]
    if len(m) != 1:
        raise Invalid("accelinfo listed %d manifests" % len(m))
    m = m[0]
    accepted = m["status"] != "skipped"
    return accepted, "%s (%s)" % (m["status"], m.get("reason") or m.get("error"))


def self_test(validator, accelinfo):
    failed = 0
    with tempfile.TemporaryDirectory(prefix="accel-schema-") as tmp:
        for label, data, expect in CASES:
            try:
                check_bytes(validator, data)
                verdict, why = True, "valid"
            except Invalid as e:
                verdict, why = False, str(e)
            # "incompatible": valid for the schema, refused by this loader
            # for a reason outside the file format.
            schema_ok = verdict == (expect is not False)
            line = "%-40s schema: %s" % (label, why[:90])
            if accelinfo:
                try:
                    accepted, detail = loader_verdict(accelinfo, tmp, label, data)
                except (Invalid, OSError, ValueError, subprocess.SubprocessError) as e:
                    accepted, detail = None, "error: %s" % e
                loader_ok = accepted == (expect is True)
                line += "; loader: %s" % detail[:90]
            else:
                loader_ok = True
            ok = schema_ok and loader_ok
            line = "".join(c if c.isprintable() else "\\x%02x" % ord(c) for c in line)
            print("%s %s" % ("ok  " if ok else "FAIL", line))
            failed += not ok
    print("%d case(s), %d failed" % (len(CASES), failed))
    return 1 if failed else 0


def main(argv):
    args, expect_invalid, selftest, accelinfo = [], False, False, None
    it = iter(argv)
    for a in it:
        if a == "--expect-invalid":
            expect_invalid = True
        elif a == "--self-test":
            selftest = True
        elif a == "--accelinfo":
            accelinfo = next(it, None)
            if not accelinfo:
                return usage("--accelinfo needs a PATH")
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("-") and a != "-":
            return usage("unknown option '%s'" % a)
        else:
            args.append(a)
    if selftest:
        if len(args) != 1 or expect_invalid:
            return usage("--self-test takes exactly one SCHEMA")
        return self_test(load_validator(args[0]), accelinfo)
    if len(args) < 2 or accelinfo:
        return usage("expected SCHEMA FILE...")
    return check_files(load_validator(args[0]), args[1:], expect_invalid)


def usage(msg):
    sys.stderr.write("check-schema.py: %s\n"
                     "usage: check-schema.py [--expect-invalid] SCHEMA FILE...\n"
                     "       check-schema.py --self-test [--accelinfo PATH] SCHEMA\n" % msg)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
