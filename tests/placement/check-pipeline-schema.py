#!/usr/bin/env python3
"""Validate pipeline files against docs/accel-pipeline.schema.json.

Usage: check-pipeline-schema.py CHECKER SCHEMA VALID_DIR INVALID_DIR

Every *.json of VALID_DIR must validate and every *.json of INVALID_DIR must
be rejected. The checking itself is manifests/check-schema.py (CHECKER): the
same schema rules and the same file limits (1 MiB, no NUL byte, strict JSON,
64 levels) as the loader's pipeline parser. Exit status: CHECKER's, or 2
when a directory has no *.json file.
"""

import glob
import os
import subprocess
import sys


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    checker, schema, valid_dir, invalid_dir = argv
    valid = sorted(glob.glob(os.path.join(valid_dir, "*.json")))
    invalid = sorted(glob.glob(os.path.join(invalid_dir, "*.json")))
    for d, files in ((valid_dir, valid), (invalid_dir, invalid)):
        if not files:
            sys.stderr.write("check-pipeline-schema.py: no *.json in %s\n" % d)
            return 2
    rc = subprocess.call([sys.executable, checker, schema] + valid)
    rc2 = subprocess.call([sys.executable, checker, "--expect-invalid", schema] + invalid)
    return rc or rc2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
