#!/usr/bin/env python3
"""Writes docs/api/errors_by_message.txt from the XenAPI datamodel: one line
per message that declares errors, "Class.message ERROR ERROR ...", for the
API reference (docs/apidoc.c). Usage: gen_message_errors.py DATAMODEL.json"""
import json
import os
import sys

d = json.load(open(sys.argv[1]))
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "api", "errors_by_message.txt")
with open(out, "w") as f:
    f.write("# Class.message and the errors the datamodel declares for it (scripts/gen_message_errors.py)\n")
    for c in d["classes"]:
        for m in c["messages"]:
            errs = [e if isinstance(e, str) else e[0] for e in m.get("errors") or []]
            if errs:
                f.write("%s.%s %s\n" % (c["name"], m["name"], " ".join(errs)))
