#!/usr/bin/env python3
"""check_layers: the layer direction of src/README.md, checked on the built
static libraries. Every symbol a layer's objects leave undefined and another
layer's archive defines must come from a layer listed as below it; a symbol
defined by two layers is an error too. Symbols no layer defines (libc,
jansson, the sanitizers…) are not ours to check.

usage: check_layers.py [--stamp FILE] NAME=ARCHIVE=BELOW1,BELOW2 ...
Exits 1 and names each backward use (layer, object, symbol, owner)."""
import subprocess
import sys


def archive_symbols(path):
    """{object: (defined set, undefined set)} of a static library."""
    out = subprocess.run(['nm', '-A', path], capture_output=True, text=True, check=True).stdout
    objs = {}
    for line in out.splitlines():
        # "lib.a:obj.o:0000000000000000 T name" or "lib.a:obj.o:                 U name"
        head, _, rest = line.rpartition(':')
        obj = head.split(':')[-1]
        parts = rest.split()
        if len(parts) < 2:
            continue
        kind, name = parts[-2], parts[-1]
        d, u = objs.setdefault(obj, (set(), set()))
        if kind == 'U':
            u.add(name)
        elif kind.isupper() or kind in 'vw':
            d.add(name)
    return objs


def main(argv):
    stamp = None
    if len(argv) > 1 and argv[0] == '--stamp':
        stamp, argv = argv[1], argv[2:]
    layers = []
    for spec in argv:
        name, path, below = spec.split('=', 2)
        layers.append((name, path, set(b for b in below.split(',') if b)))
    owner = {}  # symbol -> (layer, object)
    syms = {}
    problems = []
    for name, path, _ in layers:
        syms[name] = archive_symbols(path)
        for obj, (defined, _) in syms[name].items():
            for s in defined:
                if s in owner and owner[s][0] != name:
                    problems.append(f'{s}: defined in {owner[s][0]} ({owner[s][1]}) and {name} ({obj})')
                owner.setdefault(s, (name, obj))
    for name, _, below in layers:
        for obj, (_, undefined) in sorted(syms[name].items()):
            for s in sorted(undefined):
                if s not in owner:
                    continue
                lay, where = owner[s]
                if lay != name and lay not in below:
                    problems.append(f'{name} ({obj}) uses {s} of {lay} ({where}): '
                                    f'{name} may use only {", ".join(sorted(below)) or "nothing of ours"}')
    if problems:
        print('layer direction broken (src/README.md):', file=sys.stderr)
        for p in problems:
            print('  ' + p, file=sys.stderr)
        return 1
    if stamp:
        with open(stamp, 'w') as f:
            f.write('ok\n')
    print(f'layers: {len(layers)} libraries, every call downward')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
