"""What the tools' Python tests share: named checks, running a tool without
the caller's accel-loader configuration, and uacce emulators to point the
warpdrive driver at.

The tests run as scripts (python3 tests/tools/test_x.py), so this file's
folder is first on sys.path and `import toolsupport` finds it from any
build directory. It needs nothing beyond the standard library: test_cdi_podman.py
runs without jsonschema.
"""

import json
import os
import shutil
import subprocess
import sys
import time

# Every check that failed, in order; a test's exit status comes from it.
failures = []


def arguments(count, usage):
    """The script's `count` arguments, or None (USAGE on stderr) when it was
    given another number of them."""
    if len(sys.argv) != count + 1:
        print(usage, file=sys.stderr)
        return None
    return sys.argv[1:]


def load_schema(path, validator_class):
    """The JSON schema at PATH, checked against its draft, and a validator
    of that draft (a jsonschema class, passed in: this module does not need
    jsonschema) for it."""
    with open(path) as f:
        schema = json.load(f)
    validator_class.check_schema(schema)
    return schema, validator_class(schema)


def check(cond, what):
    """Record WHAT as failed (and say so on stderr) unless COND; returns COND."""
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return cond


def run(args, env=None, timeout=120, drop=("ACCEL_", "XDG_")):
    """Run ARGS with the caller's environment less the variables whose names
    start with one of DROP (nothing of the caller's accel-loader
    configuration leaks in), plus ENV; output captured as text."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    full.update(env or {})
    return subprocess.run(args, env=full, capture_output=True, text=True, timeout=timeout)


def wait_for(path, proc):
    """Whether PATH appears within 20 seconds while PROC still runs."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def uacce_roots(root):
    """The sysfs and /dev roots a uacce emulator started with --root ROOT
    serves, for ACCEL_UACCE_SYSFS_ROOT and ACCEL_UACCE_DEV_ROOT."""
    return os.path.join(root, "sys"), os.path.join(root, "dev")


def start_emulator(emulator, root, name, *options):
    """A uacce emulator serving device NAME under ROOT with OPTIONS, its
    output discarded. The caller waits for its node (wait_for) and ends it."""
    return subprocess.Popen([emulator, "--root", root, "--name", name] + list(options),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def char_device_beside(root, model, name):
    """A uacce device NAME whose node is a character device (a link to
    /dev/null) beside a copy of the sysfs entry of the emulated device MODEL."""
    sysfs, devroot = uacce_roots(root)
    shutil.copytree(os.path.join(sysfs, "class", "uacce", model), os.path.join(sysfs, "class", "uacce", name))
    os.symlink("/dev/null", os.path.join(devroot, name))
