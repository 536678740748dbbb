#!/usr/bin/env python3
"""Run the shell blocks of README.md and docs/*.md.

A fenced block whose info string is sh, bash or shell is a recipe a reader
pastes into a shell at the top of the source tree after building into
build/.  Each one runs here with `bash -e` in a fresh scratch directory that
looks like that tree: every top-level entry of the source tree is a symbolic
link to it (docs/ is a copy, so that a block that regenerates a file in
docs/ does not write into the source tree) and build/ is a link to the build
directory.  The build's tools are first on PATH, the ACCEL_* variables of
the caller are removed and XDG_DATA_DIRS and XDG_CONFIG_DIRS are unset (their
defaults), as in a reader's shell.

A block that only illustrates (it installs packages, installs into /usr,
runs a benchmark for minutes, needs a device or file the reader supplies)
is skipped only when the line right before its fence says so, with a
reason:

    <!-- doc-test: skip (installs packages with apt-get) -->

Blocks without a language or with another one (output, transcripts,
grammars, C, JSON) are not run.

Usage: run-doc-blocks.py SOURCE_ROOT BUILD_ROOT [FILE.md ...]
Prints FILE:LINE PASS, FAIL or SKIP (reason) for each block; exits 1 when a
block fails or a skip marker has no reason, 0 otherwise.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SHELL_LANGUAGES = {'sh', 'bash', 'shell'}
FENCE = re.compile(r'^(\s*)(```+|~~~+)\s*([^\s`]*)\s*$')
SKIP = re.compile(r'^\s*<!--\s*doc-test:\s*skip\b\s*(.*?)\s*-->\s*$')
BLOCK_TIMEOUT = 120


def blocks(path):
    """Yields (line number of the fence, language, marker line, text)."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(2), m.group(3)
        start = i
        body = []
        i += 1
        while i < len(lines):
            c = FENCE.match(lines[i])
            if c and c.group(2).startswith(fence[0]) and len(c.group(2)) >= len(fence) and not c.group(3):
                break
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            raise SystemExit('%s:%d: fenced block never closed' % (path, start + 1))
        marker = lines[start - 1] if start > 0 else ''
        yield start + 1, lang, marker, '\n'.join(body) + '\n'
        i += 1


def make_scratch(src, build):
    scratch = tempfile.mkdtemp(prefix='doc-block-')
    for name in os.listdir(src):
        if name == '.git' or name.startswith('build'):
            continue
        if name == 'docs':
            shutil.copytree(os.path.join(src, name), os.path.join(scratch, name), symlinks=True)
        else:
            os.symlink(os.path.join(src, name), os.path.join(scratch, name))
    os.symlink(build, os.path.join(scratch, 'build'))
    for d in ('home', 'config', 'data', 'cache', 'tmp'):
        os.mkdir(os.path.join(scratch, '.' + d))
    return scratch


def environment(build, scratch):
    # A reader's environment: no ACCEL_* variable, the default XDG search
    # paths (where the Vulkan and OpenCL runtimes find their drivers), and
    # a home, configuration and cache of the block's own.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('ACCEL_') and k not in ('XDG_DATA_DIRS', 'XDG_CONFIG_DIRS')}
    path = [os.path.join(build, d) for d in ('tools', 'conformance', 'icd-examples/warpdrive')]
    env['PATH'] = os.pathsep.join(path + [env.get('PATH', '/usr/bin:/bin')])
    env['HOME'] = os.path.join(scratch, '.home')
    env['XDG_CONFIG_HOME'] = os.path.join(scratch, '.config')
    env['XDG_DATA_HOME'] = os.path.join(scratch, '.data')
    env['XDG_CACHE_HOME'] = os.path.join(scratch, '.cache')
    env['TMPDIR'] = os.path.join(scratch, '.tmp')
    return env


def main(argv):
    if len(argv) < 3:
        sys.stderr.write('usage: run-doc-blocks.py SOURCE_ROOT BUILD_ROOT [FILE.md ...]\n')
        return 2
    if os.environ.get('ACCEL_TEST_SANITIZED'):
        # The blocks check the documentation; the tools they run are checked
        # under the sanitizers by their own tests.
        print('skipped in a sanitizer build: the documentation is checked in the normal build')
        return 77
    src, build = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    files = argv[3:] or [os.path.join(src, 'README.md')] + sorted(glob.glob(os.path.join(src, 'docs', '*.md')))
    counts = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    for path in files:
        rel = os.path.relpath(path, src)
        for line, lang, marker, text in blocks(path):
            if lang not in SHELL_LANGUAGES:
                continue
            where = '%s:%d' % (rel, line)
            skip = SKIP.match(marker)
            if skip:
                reason = skip.group(1)
                if not (reason.startswith('(') and reason.endswith(')') and len(reason) > 2):
                    print('%s FAIL: the skip marker gives no reason in parentheses' % where)
                    counts['FAIL'] += 1
                else:
                    print('%s SKIP %s' % (where, reason))
                    counts['SKIP'] += 1
                continue
            scratch = make_scratch(src, build)
            try:
                proc = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', text], cwd=scratch,
                                      env=environment(build, scratch), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      timeout=BLOCK_TIMEOUT, start_new_session=True)
                status = proc.returncode
                output = proc.stdout.decode('utf-8', 'replace')
            except subprocess.TimeoutExpired as e:
                status = 'timeout after %d s' % BLOCK_TIMEOUT
                output = (e.output or b'').decode('utf-8', 'replace')
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            if status == 0:
                print('%s PASS' % where)
                counts['PASS'] += 1
            else:
                print('%s FAIL (exit status %s)' % (where, status))
                for l in text.rstrip('\n').split('\n'):
                    print('    | ' + l)
                tail = output.rstrip('\n').split('\n')[-20:]
                for l in tail:
                    print('    > ' + l)
                counts['FAIL'] += 1
            sys.stdout.flush()
    print('%d passed, %d failed, %d skipped' % (counts['PASS'], counts['FAIL'], counts['SKIP']))
    return 1 if counts['FAIL'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
