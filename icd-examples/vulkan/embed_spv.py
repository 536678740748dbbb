#!/usr/bin/env python3
"""embed_spv.py NAME INPUT.spv OUTPUT.h — write a SPIR-V module as a C array.

The array is uint32_t (SPIR-V is a stream of words), named NAME, with
NAME_size holding its size in bytes."""
import struct
import sys


def main():
    name, src, out = sys.argv[1:4]
    data = open(src, 'rb').read()
    if len(data) % 4 or len(data) < 20:
        sys.exit('%s: not a SPIR-V module (%d bytes)' % (src, len(data)))
    words = struct.unpack('<%dI' % (len(data) // 4), data)
    lines = ['/* generated from %s by embed_spv.py; do not edit */' % src.split('/')[-1],
             '#include <stddef.h>', '#include <stdint.h>',
             'static const uint32_t %s[%d] = {' % (name, len(words))]
    for i in range(0, len(words), 6):
        lines.append('    ' + ' '.join('0x%08xu,' % w for w in words[i:i + 6]))
    lines.append('};')
    lines.append('static const size_t %s_size = sizeof(%s);' % (name, name))
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
