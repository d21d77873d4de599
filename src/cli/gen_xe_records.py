#!/usr/bin/env python3
"""Generates xe's record tables (xe_records_gen.c) from the XenAPI datamodel
JSON and the xe facts in src/schema/xapi_facts.py.

Usage: gen_xe_records.py DATAMODEL.json OUTDIR

For the classes whose xe records the facts describe (vm, host, sr, ...) the
parameters, their order, access markers and renderings come from the facts;
every other class with get_all_records and a uuid gets a record derived from
the schema alone (hyphenated field names, markers from the field's type and
which accessors exist). The output is committed; rerun when either changes.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "schema"))
import xapi_facts as facts  # noqa: E402

# xe names that are not the class name lowercased and hyphenated.
XE_CLASS_NAMES = {"pool_patch": "patch", "pool_update": "update",
                  "VM_appliance": "appliance", "DR_task": "drtask"}
# Default -list columns of schema-derived classes, as xe's command table has them.
EXTRA_LIST_DEFAULTS = {
    "bond": ["uuid", "master", "slaves"],
    "vlan": ["uuid", "tagged-PIF", "untagged-PIF", "tag"],
    "tunnel": ["uuid", "transport-PIF", "access-PIF", "status"],
    "secret": ["uuid", "value"],
    "blob": ["uuid", "name-label", "name-description", "mime-type", "size"],
    "subject": ["uuid", "subject-identifier", "other-config", "roles"],
    "role": ["uuid", "name", "description"],
    "host-crashdump": ["uuid", "host", "timestamp", "size"],
    "patch": ["uuid", "name-label", "name-description", "size", "hosts", "after-apply-guidance"],
    "update": ["uuid", "name-label", "name-description", "version", "installation-size", "hosts",
               "after-apply-guidance"],
    "appliance": ["uuid", "name-label", "name-description", "VMs"],
}
# Parameters xe names otherwise than the field, hyphenated (xapi's records.ml).
XE_PARAM_RENAMES = {("role", "name_label"): "name", ("role", "name_description"): "description"}
# Commands listed by a plain `xe help` (xe's "Standard" flag).
STANDARD_LIST = {"vm", "network", "sr"}
# Metrics and other internal classes xe has no commands for.
SKIP_CLASSES = {"VM", "session", "event", "user", "data_source", "sr_stat", "probe_result",
                "vdi_nbd_server_info"}


def c_ident(s):
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


def c_str(s):
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def style_of(cm):
    rules = [("power state in lower case", "XS_LOWER"), ("upper case", "XS_UPPER"),
             ("capitalised: Destroy", "XS_ACTIONS"), ("capitalised/spaced", "XS_VDI_TYPE"),
             ("pv_in_pvh", "XS_DOMAIN_TYPE"), ("(as domain-type)", "XS_DOMAIN_TYPE"),
             ("yes->true", "XS_YESNO"), ("Cancel / Destroy", "XS_TASK_OPS"),
             ("SR operations", "XS_SR_OPS"), ("host operations", "XS_HOST_OPS"),
             ("VM operations", "XS_VM_OPS")]
    for text, style in rules:
        if text in cm:
            return style
    return "XS_WIRE"


def shape_of(cm):
    if "names of the operations in progress" in cm:
        return "XSH_OPS"
    if "wrapped in single quotes" in cm:
        return "XSH_QUOTED"
    if "float printed with 3 decimals" in cm:
        return "XSH_FLOAT3"
    if "each entry is a VDI ref string" in cm:
        return "XSH_REFSTRS"
    return "XSH_AUTO"


ACCESS = {"( RO)": "XE_RO", "( RW)": "XE_RW", "(SRO)": "XE_SRO", "(SRW)": "XE_SRW",
          "(MRO)": "XE_MRO", "(MRW)": "XE_MRW"}


class Model:
    def __init__(self, dm):
        self.classes = [c for c in dm["classes"] if c["state"] != "Removed_s"]
        self.by_name = {c["name"]: c for c in self.classes}
        self.fields = {c["name"]: [f for f in c["fields"] if f["state"] != "Removed_s"]
                       for c in self.classes}
        self.msgs = {c["name"]: {m["name"] for m in c["messages"] if m["state"] != "Removed_s"}
                     for c in self.classes}

    def field(self, cls, name):
        for f in self.fields.get(cls, []):
            if f["name"] == name:
                return f
        return None

    def fid(self, cls, name):
        return "SC_F_%s__%s" % (c_ident(cls), c_ident(name))

    def ref_fields_to(self, cls, target):
        return [f["name"] for f in self.fields[cls] if f["type"] == target + " ref"]


def via_of(model, cls, cm):
    """For a computed param: (via field, far class, far field, fallback) or None."""
    text = cm[6:].replace("[DEPRECATED] ", "").replace("expensive: ", "")
    fb = "<not in database>"
    m = re.search(r"'([^']*)' if (no |none|there)", text)
    if m:
        fb = m.group(1)
    if "followed by" in text or text.startswith("from ") or text.startswith("if "):
        return None
    m = re.match(r"name_label of (\w+)\.(\w+)", text)
    if m and m.group(1) == cls:
        f = model.field(cls, m.group(2))
        if f and f["type"].endswith(" ref"):
            return m.group(2), f["type"][:-4], "name_label", fb
    m = re.match(r"(\w+)\.(\w+) of (\w+)\.(\w+)", text)
    if m and m.group(3) == cls:
        return m.group(4), m.group(1), m.group(2), fb
    m = re.match(r"(\w+)\.(\w+)", text)
    if m and m.group(1) != cls and m.group(1) in model.by_name:
        refs = model.ref_fields_to(cls, m.group(1))
        if len(refs) == 1:
            return refs[0], m.group(1), m.group(2), fb
    return None


def facts_params(model, xe_cls, cls):
    rows = []
    for name, wire, cm in facts.XE_FIELD_NAMES[xe_cls]:
        acc = ACCESS[cm[:5]]
        flags = []
        if "[DEPRECATED]" in cm:
            flags.append("XE_F_DEPRECATED")
        if "expensive:" in cm:
            flags.append("XE_F_EXPENSIVE")
        sep = ", " if "joined by ', '" in cm else "; "
        row = {"name": name, "acc": acc, "flags": "|".join(flags) or "0", "field": "-1",
               "via": "-1", "via_cls": "-1", "fallback": None, "sep": sep,
               "style": style_of(cm), "shape": shape_of(cm), "special": None}
        if wire is not None:
            if model.field(cls, wire) is None:
                print("gen_xe_records: %s.%s not in the datamodel, dropping %s %s"
                      % (cls, wire, xe_cls, name), file=sys.stderr)
                continue
            row["field"] = model.fid(cls, wire)
            if row["shape"] == "XSH_REFSTRS":
                row["via_cls"] = "SC_C_VDI"
        else:
            v = via_of(model, cls, cm)
            if v and not (model.field(cls, v[0]) and model.field(v[1], v[2])):
                print("gen_xe_records: %s.%s not in the datamodel, dropping %s %s"
                      % (v[1], v[2], xe_cls, name), file=sys.stderr)
                continue
            if v:
                row["via"] = model.fid(cls, v[0])
                row["via_cls"] = "SC_C_%s" % c_ident(v[1])
                row["field"] = model.fid(v[1], v[2])
                row["fallback"] = v[3]
            else:
                row["special"] = "%s:%s" % (xe_cls, name)
        rows.append(row)
    return rows


def schema_params(model, cls):
    rows = []
    msgs = model.msgs[cls]
    for f in model.fields[cls]:
        t, n = f["type"], f["name"]
        if t.endswith(" set"):
            acc = "XE_SRW" if "add_" + n in msgs else "XE_SRO"
        elif t.endswith(" map"):
            acc = "XE_MRW" if "add_to_" + n in msgs else "XE_MRO"
        else:
            acc = "XE_RW" if "set_" + n in msgs else "XE_RO"
        rows.append({"name": XE_PARAM_RENAMES.get((cls, n), n.replace("_", "-")), "acc": acc,
                     "flags": "XE_F_DEPRECATED" if f["state"] == "Deprecated_s" else "0",
                     "field": model.fid(cls, n), "via": "-1", "via_cls": "-1", "fallback": None,
                     "sep": "; ", "style": "XS_WIRE", "shape": "XSH_AUTO", "special": None})
    return rows


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    with open(src) as f:
        model = Model(json.load(f))

    xe_classes = []  # (xe name, wire class, param table name, rows, defaults, filters)
    tables = {}
    for xe_cls, wire in facts.XE_CLASS_TO_WIRE.items():
        table = "vm" if wire == "VM" else c_ident(xe_cls)
        if table not in tables:
            src_cls = "vm" if wire == "VM" else xe_cls
            tables[table] = facts_params(model, src_cls, wire)
        xe_classes.append((xe_cls, wire, table, facts.XE_LIST_DEFAULTS.get(xe_cls, []),
                           facts.XE_LIST_FILTERS.get(xe_cls, [])))
    covered = set(facts.XE_CLASS_TO_WIRE.values())
    for c in model.classes:
        cls = c["name"]
        if cls in covered or cls in SKIP_CLASSES:
            continue
        msgs = model.msgs[cls]
        if not {"get_all_records", "get_by_uuid", "get_record"} <= msgs:
            continue
        if model.field(cls, "uuid") is None:
            continue
        xe_cls = XE_CLASS_NAMES.get(cls, cls.lower().replace("_", "-"))
        table = c_ident(xe_cls)
        tables[table] = schema_params(model, cls)
        dflt = EXTRA_LIST_DEFAULTS.get(xe_cls)
        if dflt is None:
            dflt = [n for n in ("uuid", "name-label", "name-description")
                    if model.field(cls, n.replace("-", "_"))]
        xe_classes.append((xe_cls, cls, table, dflt, []))
    xe_classes.sort(key=lambda x: x[0])

    out = ["/* Generated by gen_xe_records.py from the XenAPI datamodel and the xe",
           " * facts in src/schema/xapi_facts.py: do not edit. */",
           '#include "records.h"', ""]
    for table, rows in tables.items():
        out.append("static const struct xe_param params_%s[] = {" % table)
        for r in rows:
            out.append("\t{%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s}," % (
                c_str(r["name"]), r["acc"], r["flags"], r["field"], r["via"], r["via_cls"],
                c_str(r["fallback"]), c_str(r["sep"]), r["style"], r["shape"],
                c_str(r["special"])))
        out.append("};")
    out.append("")
    for xe_cls, wire, table, dflt, filters in xe_classes:
        ident = c_ident(xe_cls)
        out.append("static const char *const list_%s[] = {%s};" % (
            ident, ", ".join([c_str(d) for d in dflt] + ["NULL"])))
        flat = [c_str(x) for kv in filters for x in kv]
        out.append("static const char *const filters_%s[] = {%s};" % (
            ident, ", ".join(flat + ["NULL"])))
    out.append("")
    out.append("const struct xe_class xe_classes[] = {")
    for xe_cls, wire, table, dflt, filters in xe_classes:
        ident = c_ident(xe_cls)
        out.append("\t{%s, SC_C_%s, %d, params_%s, list_%s, filters_%s, %s}," % (
            c_str(xe_cls), c_ident(wire), len(tables[table]), table, ident, ident,
            "true" if xe_cls in STANDARD_LIST else "false"))
    out.append("};")
    out.append("const int xe_nclasses = %d;" % len(xe_classes))
    with open(os.path.join(outdir, "xe_records_gen.c"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
