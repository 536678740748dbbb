#!/usr/bin/env python3
"""accelinfo --topology --format=svg: Graphviz's drawing of the topology.

Usage: test_accelinfo_svg.py ACCELINFO MANIFEST_DIR

With dot installed, the output is an SVG document (it parses as XML, its
root is svg:svg) that names every device of the DOT graph. Always: a dot
that is missing (ACCELINFO_DOT naming no program, or an empty PATH) is a
clear error naming the program and graphviz, exit status 1 and nothing on
standard output; a dot that fails is exit status 1 naming the program.

Exit status: 0 pass, 1 a check failed (named on stderr).
"""

import os
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import toolsupport  # noqa: E402
from toolsupport import check, failures  # noqa: E402


def run(args, env):
    # ACCELINFO_DOT too: the caller's dot is not the one a case names.
    return toolsupport.run(args, env, drop=("ACCEL",))


def main():
    args = toolsupport.arguments(2, __doc__)
    if args is None:
        return 2
    accelinfo, manifest_dir = args
    env = {"ACCEL_DRIVER_FILES": ":".join(os.path.join(manifest_dir, "accel_%s.json" % d) for d in ("cpu", "fpga"))}

    dot_text = run([accelinfo, "--topology", "--format=dot"], env)
    check(dot_text.returncode == 0, "accelinfo --format=dot: " + dot_text.stderr)
    if shutil.which("dot"):
        r = run([accelinfo, "--topology", "--format=svg"], env)
        if check(r.returncode == 0, "accelinfo --format=svg: exit %d: %s" % (r.returncode, r.stderr)):
            try:
                root = ET.fromstring(r.stdout)
                check(root.tag == "{http://www.w3.org/2000/svg}svg", "the root element is svg, not " + root.tag)
                text = " ".join(t for t in root.itertext())
                for name in ("cpu:0", "fpga:0", "fpga:0:bank0"):
                    check(name in dot_text.stdout and name in text, "the drawing shows " + name)
            except ET.ParseError as e:
                check(False, "the SVG does not parse as XML: %s" % e)
    else:
        print("dot is not installed: only the errors are checked")

    with tempfile.TemporaryDirectory(prefix="accel-svg-") as empty:
        for name, extra in (("ACCELINFO_DOT naming no program", {"ACCELINFO_DOT": os.path.join(empty, "no-dot")}),
                            ("dot not in PATH", {"PATH": empty})):
            r = run([accelinfo, "--topology", "--format=svg"], dict(env, **extra))
            check(r.returncode == 1, "%s: exit status %d, not 1" % (name, r.returncode))
            check(r.stdout == "", "%s: nothing on standard output, got %r" % (name, r.stdout[:80]))
            check("graphviz" in r.stderr and "dot" in r.stderr and "--format=svg" in r.stderr,
                  "%s: the error names --format=svg, the program and graphviz: %r" % (name, r.stderr))
        r = run([accelinfo, "--topology", "--format=svg"], dict(env, ACCELINFO_DOT="false"))
        check(r.returncode == 1 and "'false -Tsvg' failed" in r.stderr,
              "a failing dot: exit %d, %r" % (r.returncode, r.stderr))
    r = run([accelinfo, "--format=svg"], env)
    check(r.returncode == 2 and "--format needs --topology" in r.stderr, "--format=svg alone is a usage error")

    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("accelinfo --format=svg: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
