#!/usr/bin/env python3
"""Checks every error code the sources set against the generated table.

Usage: check_errors.py SRCDIR [--stamp FILE]

Reads src/base/errors_gen.h (ERR_<CODE> and ERR_<CODE>_NPARAMS, from the
datamodel and errors_extra.txt) and every xerr_set / xerr_setv / xerr_is
call under SRCDIR whose code is a literal or an ERR_* constant: the code must
be spelt as its constant (so a misspelling does not compile), be in the
table, and xerr_set must pass exactly its number of parameters, or the
number ALLOWED below gives for that file where xapi sends another. Codes
passed in variables (a fault relayed from the wire) are not checked. The client's and xe's own codes
(XC_ERR_*, XE_ERR_*) are not XenAPI errors and are skipped.
"""
import os
import re
import sys

# (file relative to src/, code): (the number of parameters xapi sends
# there, None for a list of any length; why it differs from the datamodel's).
# Every site of the pair must pass that number; a pair no site uses is an
# error, so the list cannot outlive its reasons.
XAPI_IO = "one description, as xapi's I/O errors carry (\"Device I/O errors\")"
ALLOWED = {
    ("api/vtpm.c", "FEATURE_RESTRICTED"):
        (1, "the restriction's key, as xapi_vtpm.ml's assert_not_restricted sends it"),
    ("api/pool_misc.c", "SR_OPERATION_NOT_SUPPORTED"):
        (0, "xapi_host.ml's enable_local_storage_caching sends it without the SR"),
    ("server/session.c", "SESSION_AUTHENTICATION_FAILED"):
        (2, "the user and PAM's reason, as xapi_session.ml raises it"),
    ("server/http_route.c", "VDI_IO_ERROR"): (1, XAPI_IO),
    ("server/ova_import.c", "VDI_IO_ERROR"): (1, XAPI_IO),
    ("server/vdi_stream.c", "VDI_IO_ERROR"): (1, XAPI_IO),
    ("formats/img.c", "VDI_IO_ERROR"): (1, XAPI_IO),
    ("formats/vhd_out.c", "VDI_IO_ERROR"): (1, XAPI_IO),
    ("api/sr.c", "VDI_IN_USE"):
        (None, "PBD.unplug lists every VDI in use (xerr_add), as xapi_pbd.ml does"),
    ("api/vdi.c", "VDI_IS_SHARABLE"):
        (1, "the VDI, as xapi_vdi.ml's check_operation_error sends it"),
    ("api/vm.c", "VM_IS_TEMPLATE"):
        (2, "the VM and the operation, as xapi_vm_lifecycle.ml's check_template sends them"),
    ("api/vm_suspend.c", "VM_HAS_NO_SUSPEND_VDI"):
        (2, "\"VM\" and the VM, as xapi_xenops.ml's resume sends them"),
}

CALL = re.compile(r"\bxerr_(set|setv|is)\s*\(")


def table(srcdir):
    codes = {}
    with open(os.path.join(srcdir, "base", "errors_gen.h")) as f:
        for line in f:
            m = re.match(r"#define ERR_(\w+)_NPARAMS (\d+)$", line.strip())
            if m:
                codes[m.group(1)] = int(m.group(2))
    return codes


def split_args(text, start):
    """The top-level arguments of the call whose '(' is at start, and the
    index after its ')'."""
    depth, i, cur, args = 0, start, [], []
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            while text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if ch == "(":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    raise ValueError("unterminated call")


def strip_comments(text):
    # Keep line numbers: replace comments by as many newlines.
    def blank(m):
        return "\n" * m.group(0).count("\n")
    return re.sub(r"/\*.*?\*/|//[^\n]*", blank, text, flags=re.S)


def code_of(arg):
    m = re.fullmatch(r'"([A-Z0-9_]+)"', arg)
    if m:
        return m.group(1)
    m = re.fullmatch(r"ERR_([A-Z0-9_]+)", arg)
    return m.group(1) if m else None


def sites(srcdir):
    for root, _, files in os.walk(srcdir):
        for name in sorted(files):
            if not name.endswith(".c") or name == "xerr.c":
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, srcdir)
            text = strip_comments(open(path).read())
            for m in CALL.finditer(text):
                args, _ = split_args(text, m.end() - 1)
                line = text.count("\n", 0, m.start()) + 1
                yield rel, line, m.group(1), args


def main():
    srcdir = sys.argv[1]
    stamp = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--stamp" else None
    codes = table(srcdir)
    bad, checked, relayed, used = [], 0, 0, set()
    for rel, line, fn, args in sites(srcdir):
        if len(args) < 2:
            continue
        code = code_of(args[1])
        if code is None:
            relayed += 1
            continue
        checked += 1
        where = "%s:%d" % (rel, line)
        if args[1].startswith('"'):
            bad.append("%s: spell %s as the constant ERR_%s" % (where, args[1], code))
            continue
        if code not in codes:
            bad.append("%s: %s is not in base/errors_gen.h (add it to errors_extra.txt)"
                       % (where, code))
            continue
        if fn != "set":
            continue
        if args[-1] != "NULL":
            bad.append("%s: xerr_set(%s, ...) does not end with NULL" % (where, code))
            continue
        n = len(args) - 3
        want = codes[code]
        if (rel, code) in ALLOWED:
            used.add((rel, code))
            want = ALLOWED[(rel, code)][0]
            if want is None:
                continue
        if n != want:
            bad.append("%s: %s takes %d parameters, %d passed" % (where, code, want, n))
    for rel, code in sorted(set(ALLOWED) - used):
        bad.append("scripts/check_errors.py: ALLOWED names %s in %s, which no site sends"
                   % (code, rel))
    for b in bad:
        print(b, file=sys.stderr)
    if bad:
        sys.exit(1)
    print("errors: %d sites checked against %d codes, %d relay a code they were given"
          % (checked, len(codes), relayed))
    if stamp:
        open(stamp, "w").close()


if __name__ == "__main__":
    main()
