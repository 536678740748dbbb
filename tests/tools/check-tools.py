#!/usr/bin/env python3
"""What the installed tools tell their users: versions, manual pages, checks.

Usage:
  check-tools.py version VERSION TOOL...
      each TOOL --version prints "NAME VERSION" then "libaccel-loader VERSION",
      and its --help mentions --version
  check-tools.py version-alone VERSION TOOL...
      the same for tools that do not use the loader library (a device
      emulator): --version prints "NAME VERSION" alone
  check-tools.py man-lint PAGE...
      groff (and man, where installed) format each page without a warning
  check-tools.py man-options TOOL PAGE
      every option TOOL --help prints is in PAGE, and --help cites PAGE
  check-tools.py check-manifest ACCELINFO CORPUS_DIR
      accelinfo --check-manifest accepts the corpus's valid-*.json, rejects
      each invalid-*.json naming the file, and says every problem when given
      several files at once

Exit status: 0 all as expected, 1 otherwise (each failure on stderr).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = []


def fail(msg):
    failures.append(msg)
    sys.stderr.write("FAIL: %s\n" % msg)


def run(args, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCEL_")}
    env["LC_ALL"] = "C.UTF-8"
    env.update(kw.pop("env", {}))
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, **kw)


def tool_name(path):
    return os.path.basename(path)


def help_options(tool):
    """The long and short options a tool's --help lists."""
    p = run([tool, "--help"])
    if p.returncode != 0:
        fail("%s --help exited with %d" % (tool, p.returncode))
    longs = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", p.stdout))
    shorts = set(re.findall(r"^\s+(-[A-Za-z]),", p.stdout, re.M))
    return p.stdout, longs, shorts


def check_version(version, tools, with_library=True):
    for tool in tools:
        name = tool_name(tool)
        p = run([tool, "--version"])
        lines = p.stdout.splitlines()
        if p.returncode != 0:
            fail("%s --version exited with %d" % (name, p.returncode))
        expected = ["%s %s" % (name, version)] + (["libaccel-loader %s" % version] if with_library else [])
        if lines != expected:
            fail("%s --version printed %r, expected %r" % (name, lines, expected))
        text, longs, _ = help_options(tool)
        if "--version" not in longs:
            fail("%s --help does not mention --version" % name)
        print("%s: %s" % (name, " / ".join(lines)))


def render(page):
    """The page as plain text, one long line per paragraph, unhyphenated."""
    p = run(["groff", "-man", "-Tascii", "-P-cbou", "-rLL=400n", "-rHY=0", page])
    if p.returncode != 0:
        fail("groff %s: %s" % (page, p.stderr.strip()))
    return p.stdout


def check_man_lint(pages):
    for page in pages:
        p = run(["groff", "-man", "-Tutf8", "-ww", "-z", page])
        if p.returncode != 0 or p.stderr.strip():
            fail("groff -ww %s: %s" % (page, p.stderr.strip() or "exit %d" % p.returncode))
        if shutil.which("man"):
            p = run(["man", "--warnings", "-l", page], env={"MANPAGER": "cat", "PAGER": "cat",
                                                             "MANWIDTH": "80"})
            if p.returncode != 0 or p.stderr.strip():
                fail("man --warnings %s: %s" % (page, p.stderr.strip() or "exit %d" % p.returncode))
        if not re.search(r"^\.SH NAME$", open(page).read(), re.M):
            fail("%s has no NAME section" % page)
        print("%s: formats without warnings" % os.path.basename(page))


def check_man_options(tool, page):
    name = tool_name(tool)
    text, longs, shorts = help_options(tool)
    ref = os.path.basename(page)  # accelinfo.1 -> accelinfo(1)
    cite = "%s(%s)" % tuple(ref.rsplit(".", 1))
    if cite not in text:
        fail("%s --help does not cite %s" % (name, cite))
    body = render(page)
    if not longs:
        fail("no options found in %s --help" % name)
    for opt in sorted(longs | shorts):
        if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), body):
            fail("%s --help has %s, which %s does not describe" % (name, opt, ref))
    print("%s: %d options, all in %s" % (name, len(longs | shorts), ref))


def check_manifest(accelinfo, corpus):
    files = sorted(os.listdir(corpus))
    good = [os.path.join(corpus, f) for f in files if f.startswith("valid-")]
    bad = [os.path.join(corpus, f) for f in files if f.startswith("invalid-")]
    if not good or not bad:
        fail("%s has no valid-*/invalid-* manifests" % corpus)
    for f in good:
        p = run([accelinfo, "--check-manifest", f])
        if p.returncode != 0 or not p.stdout.startswith(f + ": valid"):
            fail("--check-manifest %s: exit %d, %r %r" % (f, p.returncode, p.stdout, p.stderr))
    for f in bad:
        p = run([accelinfo, "--check-manifest", f])
        if p.returncode != 1 or not p.stderr.startswith(f + ": invalid: ") or len(p.stderr.strip()) <= len(
                f + ": invalid: "):
            fail("--check-manifest %s: exit %d, %r %r" % (f, p.returncode, p.stdout, p.stderr))
    # Several at once: every problem is reported, the valid ones too.
    sample = bad[:3] + good[:1]
    p = run([accelinfo, "--check-manifest"] + sample)
    if p.returncode != 1:
        fail("--check-manifest with invalid files exited with %d" % p.returncode)
    for f in bad[:3]:
        if f + ": invalid: " not in p.stderr:
            fail("--check-manifest of several files did not name %s: %r" % (f, p.stderr))
    if good[0] + ": valid" not in p.stdout:
        fail("--check-manifest of several files did not report %s valid" % good[0])
    # A directory is checked file by file; a missing file is named; the
    # environment's driver selection does not change the verdict; no file
    # is a usage error.
    with tempfile.TemporaryDirectory(prefix="accel-check-") as d:
        shutil.copy(good[0], os.path.join(d, "a.json"))
        shutil.copy(bad[0], os.path.join(d, "b.json"))
        p = run([accelinfo, "--check-manifest", d], env={"ACCEL_DRIVERS_SELECT": "nothing"})
        if (p.returncode != 1 or os.path.join(d, "a.json") + ": valid" not in p.stdout
                or os.path.join(d, "b.json") + ": invalid: " not in p.stderr):
            fail("--check-manifest DIR: exit %d, %r %r" % (p.returncode, p.stdout, p.stderr))
        missing = os.path.join(d, "missing.json")
        p = run([accelinfo, "--check-manifest", missing])
        if p.returncode != 1 or not p.stderr.startswith(missing + ": invalid: "):
            fail("--check-manifest of a missing file: exit %d, %r" % (p.returncode, p.stderr))
    for args in (["--check-manifest"], ["--check-manifest", "--json", good[0]]):
        p = run([accelinfo] + args)
        if p.returncode != 2 or "--check-manifest" not in p.stderr:
            fail("accelinfo %s: exit %d, %r" % (" ".join(args), p.returncode, p.stderr))
    print("--check-manifest: %d valid and %d invalid manifests as expected" % (len(good), len(bad)))


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "version" and len(args) >= 2:
        check_version(args[0], args[1:])
    elif cmd == "version-alone" and len(args) >= 2:
        check_version(args[0], args[1:], with_library=False)
    elif cmd == "man-lint" and args:
        check_man_lint(args)
    elif cmd == "man-options" and len(args) == 2:
        check_man_options(*args)
    elif cmd == "check-manifest" and len(args) == 2:
        check_manifest(*args)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
