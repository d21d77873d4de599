#!/usr/bin/env python3
"""The API coverage table, docs/api-coverage.md: every message of the schema
with its state, from the committed schema tables (src/schema/schema_gen.c),
the handler list (src/api/messages.list) and the hand-kept reasons
(src/api/absent.list).

Usage: api_coverage.py            rewrite docs/api-coverage.md
       api_coverage.py --check    exit 1 if the file is not what it would write

tests/integration/test_api_coverage.py imports this module for the same
messages, their parameter types and the reasons.

absent.list, one message a line:
  Class.message  absent ERROR_CODE [note]   implemented; answers xapi's error
                                            for a feature that has nothing to
                                            do here (must be in messages.list)
  Class.message  issue N title              not implemented yet, left to open
                                            issue N (must not be in messages.list)
  Class.message  skip reason                not called by the coverage test
                                            (it stops the host or cuts the API)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_GEN = os.path.join(ROOT, "src", "schema", "schema_gen.c")
MESSAGES_LIST = os.path.join(ROOT, "src", "api", "messages.list")
ABSENT_LIST = os.path.join(ROOT, "src", "api", "absent.list")
TABLE = os.path.join(ROOT, "docs", "api-coverage.md")

ENUM_RE = re.compile(r'^static const char \*const enum_(\d+)\[\] = \{(.*)\};$')
TYPE_RE = re.compile(r'^\t\{\.kind = (SC_\w+), \.cls = (-?\d+), \.en = (-?\d+)(.*)\.text = "([^"]*)"\},$')
PARAMS_RE = re.compile(r'^static const struct sc_param params_(\d+)_(\d+)\[\] = \{(.*)\};$')
PARAM_RE = re.compile(r'\{"(\w+)", &sc_types\[(\d+)\]\}')
TABLE_RE = re.compile(r"^static const struct sc_message messages_(\d+)\[\] = \{")
MSG_RE = re.compile(r'^\t\{"(\w+)", (SC_MSG_\w+), (-?\d+), (true|false), (true|false), SC_(\w+), '
                    r'(0x[0-9a-f]+), (\d+), params_(\d+)_(\d+), &sc_types\[(\d+)\]\},$')
CLASS_RE = re.compile(r'^\t\{"(\w+)", "[^"]*", SC_\w+, \w+, \w+, \w+, (\d+), fields_(\d+), (\d+), messages_(\d+), ')
FIELD_RE = re.compile(r'^\t\{"(\w+)", "[^"]*", &sc_types\[\d+\]')
FIELDS_RE = re.compile(r"^static const struct sc_field fields_(\d+)\[\] = \{")
ELEM_RE = re.compile(r"\.(elem|key|val) = &sc_types\[(\d+)\]")


class Message:
    def __init__(self, cls, name, kind, session, state, params, result):
        self.cls, self.name, self.kind = cls, name, kind
        self.session, self.state = session, state
        self.params = params    # [(name, type)], the session excluded
        self.result = result

    @property
    def key(self):
        return "%s.%s" % (self.cls, self.name)


def parse_schema(path=SCHEMA_GEN):
    """(messages in table order, types by index, enums by index)."""
    enums, types, params, tables, fields = {}, [], {}, {}, {}
    classes, table, ftable = [], None, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            m = ENUM_RE.match(line)
            if m:
                enums[int(m.group(1))] = re.findall(r'"([^"]*)"', m.group(2))
                continue
            m = TYPE_RE.match(line)
            if m:
                t = {"kind": m.group(1), "en": int(m.group(3)), "text": m.group(5)}
                for k, i in ELEM_RE.findall(m.group(4)):
                    t[k] = int(i)
                types.append(t)
                continue
            m = FIELDS_RE.match(line)
            if m:
                ftable = int(m.group(1))
                fields[ftable] = set()
                continue
            m = PARAMS_RE.match(line)
            if m:
                params[(int(m.group(1)), int(m.group(2)))] = [(n, int(t)) for n, t in PARAM_RE.findall(m.group(3))]
                ftable = None
                continue
            m = TABLE_RE.match(line)
            if m:
                table = int(m.group(1))
                tables[table] = []
                continue
            m = MSG_RE.match(line)
            if m and table is not None:
                g = m.groups()
                tables[table].append((g[0], g[1], g[3] == "true", g[5], (int(g[8]), int(g[9])), int(g[10])))
                continue
            m = FIELD_RE.match(line)
            if m and ftable is not None:
                fields[ftable].add(m.group(1))
                continue
            m = CLASS_RE.match(line)
            if m:
                classes.append((m.group(1), int(m.group(3)), int(m.group(5))))
    msgs = []
    for cname, ft, mt in classes:
        for name, kind, session, state, pk, result in tables.get(mt, []):
            ps = [(n, types[t]) for n, t in params[pk]]
            # explicit setters behave as plain ones (api/generic.c explicit_setter)
            if (kind == "SC_MSG_CUSTOM" and name.startswith("set_") and len(ps) == 2
                    and name[4:] in fields.get(ft, ())):
                kind = "SC_MSG_SET_FIELD"
            msgs.append(Message(cname, name, kind, session, state, ps, types[result]))
    return msgs, types, enums


def read_messages_list(path=MESSAGES_LIST):
    listed = set()
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if line and not line.startswith("extra"):
                listed.add(line)
    return listed


def read_absent_list(path=ABSENT_LIST):
    """{Class.message: (kind, detail)}; kind absent, issue or skip."""
    out = {}
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 2)
            if len(parts) < 3 or parts[1] not in ("absent", "issue", "skip"):
                sys.exit("%s:%d: expected Class.message absent|issue|skip detail, got %r" % (path, n, line))
            if parts[0] in out:
                sys.exit("%s:%d: %s named twice" % (path, n, parts[0]))
            out[parts[0]] = (parts[1], parts[2])
    return out


def classify(msgs, listed, absent):
    """[(message, state, detail)] for every message; exits on a list that
    contradicts the handler table."""
    keys = {m.key for m in msgs}
    errors = [k + ": in absent.list, not in the schema" for k in absent if k not in keys]
    rows = []
    for m in msgs:
        a = absent.get(m.key)
        impl = m.key in listed
        if impl:
            state, detail = "implemented", ""
        elif m.kind != "SC_MSG_CUSTOM":
            state, detail = "generic", ""
        else:
            state, detail = "NOT_IMPLEMENTED", ""
        if a:
            kind, text = a
            if kind == "absent":
                if not impl:
                    errors.append(m.key + ": absent.list says absent, but messages.list lacks it")
                state, detail = "absent feature", text
            elif kind == "issue":
                if impl:
                    errors.append(m.key + ": implemented; remove its issue line from absent.list")
                state, detail = "open issue", text
            else:
                detail = ("not called by the coverage test: " + text)
        if m.state == "DEPRECATED":
            detail = ("deprecated; " + detail) if detail else "deprecated"
        if not m.session:
            detail = ("no session; " + detail) if detail else "no session"
        rows.append((m, state, detail))
    if errors:
        sys.exit("\n".join(errors))
    return rows


def summary(rows):
    """Counts over the messages with their own behaviour that have a
    session and are not deprecated: {state: n}, skipped ones apart."""
    counts = {}
    for m, state, detail in rows:
        if m.kind != "SC_MSG_CUSTOM" or not m.session or m.state == "DEPRECATED":
            continue
        k = "not called" if "not called" in detail else state
        counts[k] = counts.get(k, 0) + 1
    return counts


def render(rows):
    counts = summary(rows)
    out = ["# XenAPI coverage",
           "",
           "Generated by `scripts/api_coverage.py` from `src/schema/schema_gen.c`, `src/api/messages.list`",
           "and `src/api/absent.list`: do not edit. Regenerate with `python3 scripts/api_coverage.py`;",
           "the unit test `api-coverage` fails when this file is not current, and the integration suite",
           "`test_api_coverage` calls every message with a session and fails on a `NOT_IMPLEMENTED` that",
           "this table does not name with its reason.",
           "",
           "States: *generic* — field accessors, get_record, get_all…, create/destroy over the store",
           "(api/generic.c), counted per class; *implemented* — its own handler; *absent feature* —",
           "answers xapi's error for a feature that has nothing to do here; *open issue* — answers",
           "`NOT_IMPLEMENTED` until the issue named builds it. Deprecated messages and those without a",
           "session are listed but not called.",
           "",
           "Messages with their own behaviour, with a session, not deprecated: %d — %s." % (
               sum(counts.values()), ", ".join("%d %s" % (counts[k], k) for k in sorted(counts))),
           ""]
    by_cls = {}
    for row in rows:
        by_cls.setdefault(row[0].cls, []).append(row)
    for cls, crows in by_cls.items():
        generic = sum(1 for m, s, d in crows if s == "generic" and not d)
        out += ["", "## " + cls, "", "%d generic messages." % generic]
        own = [r for r in crows if not (r[1] == "generic" and not r[2])]
        if own:
            out += ["", "| message | state | reason |", "|---|---|---|"]
        for m, state, detail in own:
            out.append("| %s | %s | %s |" % (m.name, state, detail.replace("|", "\\|")))
    return "\n".join(out) + "\n"


def load():
    msgs, _, _ = parse_schema()
    return classify(msgs, read_messages_list(), read_absent_list())


def main():
    text = render(load())
    if "--check" in sys.argv[1:]:
        try:
            with open(TABLE) as f:
                current = f.read()
        except OSError:
            current = None
        if current != text:
            sys.exit("docs/api-coverage.md is not current: run python3 scripts/api_coverage.py")
        return
    os.makedirs(os.path.dirname(TABLE), exist_ok=True)
    with open(TABLE, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
