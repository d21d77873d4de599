#!/usr/bin/env python3
"""Generates Xenon's schema tables (schema_gen.c, schema_gen.h) and the
error codes (base/errors_gen.h) from the XenAPI datamodel JSON, the facts in
xapi_facts.py and the errors the datamodel lacks in errors_extra.txt.

Usage: gen_schema.py DATAMODEL.json OUTDIR

The output is committed; rerun this when the datamodel or the facts change.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import xapi_facts as facts  # relations, defaults, async exceptions, xe names
except ImportError:  # pragma: no cover - the facts file is committed
    facts = None

ROLES = ["pool-admin", "pool-operator", "vm-power-admin", "vm-admin",
         "vm-operator", "read-only", "client-cert"]
STATES = {"Published_s": "SC_PUBLISHED", "Prototyped_s": "SC_PROTOTYPED",
          "Deprecated_s": "SC_DEPRECATED", "Removed_s": "SC_REMOVED"}
QUALS = {"RW": "SC_RW", "RO/constructor": "SC_RO_CTOR", "RO/runtime": "SC_RO_RUNTIME"}

# Classes that are call namespaces or transient results, never rows.
NOT_STORED = {"event", "auth", "data_source", "sr_stat", "probe_result",
              "vdi_nbd_server_info"}
# Sessions and tasks describe this process's clients and work: they do not
# outlive a restart, so they are not written to the durable log.
NOT_PERSISTED = {"session", "task"}
# xapi emits no events for these.
NO_EVENTS = {"session", "user", "data_source", "sr_stat", "probe_result",
             "vdi_nbd_server_info", "auth", "secret"}
# Classes whose explicit messages have no Async variant.
NO_ASYNC_CLASSES = {"session", "event", "task", "data_source", "blob"}

# Defaults that differ from the zero value of the type, where the facts
# file has none: what a freshly created object carries in xapi.
EXTRA_DEFAULTS = {
    ("VM", "domid"): "-1",
    ("VM", "power_state"): '"Halted"',
    ("VM", "actions_after_shutdown"): '"destroy"',
    ("VM", "actions_after_reboot"): '"restart"',
    ("VM", "actions_after_crash"): '"restart"',
    ("VM", "actions_after_softreboot"): '"soft_reboot"',
    ("VM", "HVM_shadow_multiplier"): "1.0",
    ("VM", "VCPUs_params"): "{}",
    ("VM", "domain_type"): '"unspecified"',
    ("VM", "ha_restart_priority"): '""',
    ("VM", "VCPUs_max"): "1",
    ("VM", "VCPUs_at_startup"): "1",
    ("VM", "user_version"): "1",
    ("PIF", "VLAN"): "-1",
    ("VBD", "mode"): '"RW"',
    ("VBD", "type"): '"Disk"',
    ("VDI", "type"): '"user"',
    ("VDI", "on_boot"): '"persist"',
    ("VDI", "managed"): "true",
    ("VDI", "allow_caching"): "false",
    ("task", "status"): '"pending"',
    ("task", "type"): '"<none/>"',
    ("host", "enabled"): "true",
    ("host", "API_version_vendor"): '"XenSource"',
    ("host_metrics", "live"): "true",
    ("network", "default_locking_mode"): '"unlocked"',
    ("VIF", "locking_mode"): '"network_default"',
    ("VIF", "MTU"): "1500",
    ("network", "MTU"): "1500",
    ("PIF", "MTU"): "1500",
    ("console", "protocol"): '"vt100"',
    ("SR", "content_type"): '""',
    ("message", "priority"): "0",
    ("blob", "mime_type"): '""',
}


def c_ident(s):
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Types:
    """Parses datamodel type strings into a deduplicated table."""

    def __init__(self, classes, enums):
        self.classes = classes
        self.enums = enums
        self.order = []
        self.index = {}

    def get(self, text):
        if text in self.index:
            return self.index[text]
        t = self.parse(text)
        self.index[text] = len(self.order)
        self.order.append((text, t))
        return self.index[text]

    def parse(self, text):
        simple = {"void": "SC_VOID", "string": "SC_STRING", "int": "SC_INT",
                  "bool": "SC_BOOL", "float": "SC_FLOAT", "datetime": "SC_DATETIME",
                  "<class> record": "SC_ANYRECORD", "an event batch": "SC_EVENTS"}
        if text in simple:
            return {"kind": simple[text]}
        if text.endswith(" map") and text.startswith("("):
            inner = text[1:-len(") map")]
            depth = 0
            for i, ch in enumerate(inner):
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                elif depth == 0 and inner.startswith(" -> ", i):
                    return {"kind": "SC_MAP", "key": self.get(inner[:i]),
                            "val": self.get(inner[i + 4:])}
            raise ValueError(text)
        if text.endswith(" set"):
            return {"kind": "SC_SET", "elem": self.get(text[:-4])}
        if text.endswith(" option"):
            return {"kind": "SC_OPTION", "elem": self.get(text[:-7])}
        if text.endswith(" ref"):
            return {"kind": "SC_REF", "cls": self.classes.get(text[:-4], -1)}
        if text.endswith(" record"):
            return {"kind": "SC_RECORD", "cls": self.classes.get(text[:-7], -1)}
        if text.startswith("enum "):
            return {"kind": "SC_ENUM", "en": self.enums[text[5:]]}
        raise ValueError("unknown type " + text)


def zero_default(tinfo, types, enums_list):
    k = tinfo["kind"]
    if k == "SC_STRING":
        return '""'
    if k == "SC_INT":
        return "0"
    if k == "SC_BOOL":
        return "false"
    if k == "SC_FLOAT":
        return "0.0"
    if k == "SC_DATETIME":
        return '"19700101T00:00:00Z"'
    if k == "SC_REF":
        return '"OpaqueRef:NULL"'
    if k == "SC_ENUM":
        return json.dumps(enums_list[tinfo["en"]][1][0])
    if k == "SC_SET":
        return "[]"
    if k in ("SC_MAP", "SC_RECORD", "SC_ANYRECORD", "SC_EVENTS"):
        return "{}"
    return "null"


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    with open(src) as f:
        dm = json.load(f)

    classes = [c for c in dm["classes"] if c["state"] != "Removed_s"]
    # xapi serves get_all_records_where on every class with get_all_records,
    # though the published datamodel omits it.
    for c in classes:
        names = {m["name"]: m for m in c["messages"]}
        if "get_all_records" in names and "get_all_records_where" not in names:
            m = dict(names["get_all_records"])
            m["name"] = "get_all_records_where"
            m["params"] = [["session ref", "session_id"], ["string", "expr"]]
            m["implicit"] = True
            c["messages"] = c["messages"] + [m]
    class_index = {c["name"]: i for i, c in enumerate(classes)}
    # Refs to removed classes still need a class number for typing.
    enums_list = []
    enum_index = {}
    for c in dm["classes"]:
        for e in c["enums"]:
            if e["name"] not in enum_index:
                enum_index[e["name"]] = len(enums_list)
                enums_list.append((e["name"], e["values"]))
    types = Types(class_index, enum_index)

    defaults = dict(EXTRA_DEFAULTS)
    if facts is not None and hasattr(facts, "DEFAULTS"):
        defaults.update(facts.DEFAULTS)
    xe_names = {}
    if facts is not None and hasattr(facts, "XE_FIELD_RENAMES"):
        xe_names.update(facts.XE_FIELD_RENAMES)
    sync_only = set(getattr(facts, "SYNC_ONLY", []) if facts else [])
    ctor_async = getattr(facts, "IMPLICIT_CTOR_DTOR_ASYNC", True) if facts else True
    ctor_no_async = set(getattr(facts, "IMPLICIT_CTOR_DTOR_NO_ASYNC_CLASSES", [])
                        if facts else [])
    not_persisted = NOT_PERSISTED | set(getattr(facts, "NON_PERSISTENT_CLASSES", [])
                                        if facts else [])
    # Messages outlive a restart here (xapi keeps them in files of their own).
    not_persisted.discard("message")
    no_events = NO_EVENTS | set(getattr(facts, "NO_EVENT_CLASSES", []) if facts else [])

    # Fields kept per class (Removed fields are not part of records).
    cfields = []
    for c in classes:
        fs = [f for f in c["fields"] if f["state"] != "Removed_s"]
        cfields.append(fs)
    field_index = [{f["name"]: i for i, f in enumerate(fs)} for fs in cfields]

    relations = []
    for rel in (getattr(facts, "RELATIONS", []) if facts else []):
        (oc, of), (mc, mf) = rel
        if oc in class_index and mc in class_index:
            oi, mi = class_index[oc], class_index[mc]
            if of in field_index[oi] and mf in field_index[mi]:
                relations.append((oi, field_index[oi][of], mi, field_index[mi][mf]))
    rel_many = {(r[2], r[3]): (r[0], r[1]) for r in relations}
    rel_one = {(r[0], r[1]): i for i, r in enumerate(relations)}

    out_c = []
    w = out_c.append
    w("/* Generated by gen_schema.py from the XenAPI datamodel: do not edit. */")
    w('#include "schema.h"')
    w("")
    # Enums
    for i, (name, values) in enumerate(enums_list):
        w("static const char *const enum_%d[] = {%s};" % (i, ", ".join(c_str(v) for v in values)))
    w("const struct sc_enum sc_enums[] = {")
    for i, (name, values) in enumerate(enums_list):
        w("\t{%s, %d, enum_%d}," % (c_str(name), len(values), i))
    w("};")
    w("const int sc_nenums = %d;" % len(enums_list))
    w("")

    # Pre-register every type so the table is complete before emission.
    for ci, c in enumerate(classes):
        for f in cfields[ci]:
            types.get(f["type"])
        for m in c["messages"]:
            types.get(m["result"])
            for p in m["params"]:
                types.get(p[0])

    w("static const struct sc_type sc_types[%d];" % len(types.order))
    w("static const struct sc_type sc_types[%d] = {" % len(types.order))
    for text, t in types.order:
        parts = [".kind = %s" % t["kind"], ".cls = %d" % t.get("cls", -1),
                 ".en = %d" % t.get("en", -1)]
        for k in ("elem", "key", "val"):
            if k in t:
                parts.append(".%s = &sc_types[%d]" % (k, t[k]))
        parts.append(".text = %s" % c_str(text))
        w("\t{%s}," % ", ".join(parts))
    w("};")
    w("")

    # Fields
    for ci, c in enumerate(classes):
        w("static const struct sc_field fields_%d[] = {" % ci)
        for fi, f in enumerate(cfields[ci]):
            key = (c["name"], f["name"])
            tinfo = types.order[types.get(f["type"])][1]
            dflt = defaults.get(key, zero_default(tinfo, types, enums_list))
            xe = xe_names.get(key, f["name"].replace("_", "-"))
            rc, rf = rel_many.get((ci, fi), (-1, -1))
            ri = rel_one.get((ci, fi), -1)
            w("\t{%s, %s, &sc_types[%d], %s, %s, %d, %d, %d, %s}," % (
                c_str(f["name"]), c_str(xe), types.get(f["type"]), QUALS[f["qualifier"]],
                STATES[f["state"]], rc, rf, ri, c_str(dflt)))
        if not cfields[ci]:
            w("\t{0},")
        w("};")

    # Messages
    for ci, c in enumerate(classes):
        fidx = field_index[ci]
        msgs = [m for m in c["messages"] if m["state"] != "Removed_s"]
        for mi, m in enumerate(msgs):
            params = m["params"]
            has_session = bool(params) and params[0][0] == "session ref" and params[0][1] == "session_id"
            ps = params[1:] if has_session else params
            w("static const struct sc_param params_%d_%d[] = {%s};" % (
                ci, mi, ", ".join("{%s, &sc_types[%d]}" % (c_str(p[1]), types.get(p[0])) for p in ps)
                or "{0}"))
        w("static const struct sc_message messages_%d[] = {" % ci)
        for mi, m in enumerate(msgs):
            name = m["name"]
            kind, field = "SC_MSG_CUSTOM", -1
            implicit = m["implicit"]
            fixed = {"get_record": "SC_MSG_GET_RECORD", "get_by_uuid": "SC_MSG_GET_BY_UUID",
                     "get_by_name_label": "SC_MSG_GET_BY_NAME_LABEL", "get_all": "SC_MSG_GET_ALL",
                     "get_all_records": "SC_MSG_GET_ALL_RECORDS",
                     "get_all_records_where": "SC_MSG_GET_ALL_RECORDS_WHERE",
                     "create": "SC_MSG_CREATE", "destroy": "SC_MSG_DESTROY"}
            # message's accessors are explicit in xapi (its rows live outside
            # the DB) but behave as the implicit ones over our store.
            if name in fixed and (implicit or c["name"] == "message"):
                kind = fixed[name]
            elif implicit:
                for prefix, k in (("get_", "SC_MSG_GET_FIELD"), ("set_", "SC_MSG_SET_FIELD"),
                                  ("add_to_", "SC_MSG_ADD_TO_MAP"),
                                  ("remove_from_", "SC_MSG_REMOVE_FROM_MAP"),
                                  ("add_", "SC_MSG_ADD_TO_SET"), ("remove_", "SC_MSG_REMOVE_FROM_SET")):
                    if name.startswith(prefix) and name[len(prefix):] in fidx:
                        kind, field = k, fidx[name[len(prefix):]]
                        break
            params = m["params"]
            has_session = bool(params) and params[0][0] == "session ref" and params[0][1] == "session_id"
            nparams = len(params) - (1 if has_session else 0)
            if kind in ("SC_MSG_CREATE", "SC_MSG_DESTROY"):
                is_async = ctor_async and c["name"] not in ctor_no_async and c["name"] not in NO_ASYNC_CLASSES
            elif kind != "SC_MSG_CUSTOM":
                is_async = False
            else:
                is_async = (c["name"] not in NO_ASYNC_CLASSES and
                            "%s.%s" % (c["name"], name) not in sync_only and has_session)
            roles = 0
            for r in m.get("roles", []):
                if r in ROLES:
                    roles |= 1 << ROLES.index(r)
            w("\t{%s, %s, %d, %s, %s, %s, 0x%x, %d, params_%d_%d, &sc_types[%d]}," % (
                c_str(name), kind, field, "true" if has_session else "false",
                "true" if is_async else "false", STATES[m["state"]], roles, nparams, ci, mi,
                types.get(m["result"])))
        if not msgs:
            w("\t{0},")
        w("};")
        c["_nmsgs"] = len(msgs)

    w("")
    w("const struct sc_class sc_classes[] = {")
    first_message = 0
    for ci, c in enumerate(classes):
        names = [m["name"] for m in c["messages"]]
        stored = c["name"] not in NOT_STORED and "get_all_records" in names
        w("\t{%s, %s, %s, %s, %s, %s, %d, fields_%d, %d, messages_%d, %d, %d, %d}," % (
            c_str(c["name"]), c_str(c["name"].lower()), STATES[c["state"]],
            "true" if stored else "false",
            "true" if stored and c["name"] not in not_persisted else "false",
            "true" if stored and c["name"] not in no_events else "false",
            len(cfields[ci]), ci, c["_nmsgs"], ci,
            field_index[ci].get("uuid", -1), field_index[ci].get("name_label", -1),
            first_message))
        first_message += c["_nmsgs"]
    w("};")
    w("const int sc_nclasses = %d;" % len(classes))
    w("")
    w("const struct sc_relation sc_relations[] = {")
    for r in relations:
        w("\t{%d, %d, %d, %d}," % r)
    if not relations:
        w("\t{0},")
    w("};")
    w("const int sc_nrelations = %d;" % len(relations))
    w("")
    for i, e in enumerate(dm["errors"]):
        w("static const char *const err_%d[] = {%s};" % (
            i, ", ".join(c_str(p) for p in (e["params"] or [])) or "NULL"))
    w("const struct sc_error sc_errors[] = {")
    for i, e in enumerate(dm["errors"]):
        w("\t{%s, %d, err_%d}," % (c_str(e["name"]), len(e["params"] or []), i))
    w("};")
    w("const int sc_nerrors = %d;" % len(dm["errors"]))

    out_h = ["/* Generated by gen_schema.py from the XenAPI datamodel: do not edit.",
             " * Class and field indices, so code names fields instead of counting. */",
             "#ifndef XENON_SCHEMA_GEN_H", "#define XENON_SCHEMA_GEN_H", "", "enum sc_class_id {"]
    for ci, c in enumerate(classes):
        out_h.append("\tSC_C_%s = %d," % (c_ident(c["name"]), ci))
    out_h.append("};")
    out_h.append("")
    for ci, c in enumerate(classes):
        out_h.append("enum {")
        for fi, f in enumerate(cfields[ci]):
            out_h.append("\tSC_F_%s__%s = %d," % (c_ident(c["name"]), c_ident(f["name"]), fi))
        out_h.append("\tSC_NF_%s = %d," % (c_ident(c["name"]), len(cfields[ci])))
        out_h.append("};")
    out_h.append("")
    # Every message of every class, numbered in class order: the index of
    # a message in handler tables (sc_message_id()).
    out_h.append("enum sc_message_id {")
    n = 0
    for ci, c in enumerate(classes):
        for m in c["messages"]:
            if m["state"] == "Removed_s":
                continue
            out_h.append("\tSC_M_%s__%s = %d," % (c_ident(c["name"]), c_ident(m["name"]), n))
            n += 1
    out_h.append("\tSC_NMESSAGES = %d," % n)
    out_h.append("};")
    out_h.append("")
    out_h.append("enum sc_enum_id {")
    for i, (name, values) in enumerate(enums_list):
        out_h.append("\tSC_E_%s = %d," % (c_ident(name), i))
    out_h.append("};")
    out_h.append("")
    out_h.append("#endif")

    errors_h = [
        "/* Generated by gen_schema.py from the XenAPI datamodel and errors_extra.txt:",
        " * do not edit. Every error code xenond sends, as ERR_<CODE>, and its number",
        " * of parameters, ERR_<CODE>_NPARAMS (scripts/check_errors.py checks the",
        " * xerr_set calls against them). Macros only: any layer may include it. */",
        "#ifndef XENON_ERRORS_GEN_H", "#define XENON_ERRORS_GEN_H", ""]
    extra = []
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "errors_extra.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if line:
                extra.append({"name": line[0], "params": line[1:]})
    seen = set()
    for e in list(dm["errors"]) + extra:
        if e["name"] in seen:
            raise SystemExit("error %s defined twice" % e["name"])
        seen.add(e["name"])
        errors_h.append("#define ERR_%s %s" % (e["name"], c_str(e["name"])))
        errors_h.append("#define ERR_%s_NPARAMS %d" % (e["name"], len(e["params"] or [])))
    errors_h += ["", "#endif"]
    # the codes are plain text values every layer sets, base included: the
    # header lives in base/ so that including it runs no arrow upward
    with open(os.path.join(outdir, "..", "base", "errors_gen.h"), "w") as f:
        f.write("\n".join(errors_h) + "\n")

    with open(os.path.join(outdir, "schema_gen.c"), "w") as f:
        f.write("\n".join(out_c) + "\n")
    with open(os.path.join(outdir, "schema_gen.h"), "w") as f:
        f.write("\n".join(out_h) + "\n")


if __name__ == "__main__":
    main()
