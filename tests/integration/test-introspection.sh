#!/usr/bin/env bash
# dbus/org.skfastpath1.xml is the live org.skfastpath1.Manager: same methods, arguments (names,
# types, directions), properties (types, access, annotations) and signals.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"

skfp_env_init introspect
skfp_daemon_start
busctl --system introspect --xml-interface org.skfastpath1 /org/skfastpath1 >"$T/live.xml"
skfp_daemon_stop

/usr/bin/python3 - "$SKFP_TOP/dbus/org.skfastpath1.xml" "$T/live.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET

NAME = "org.skfastpath1.Manager"

def members(path):
    root = ET.parse(path).getroot()
    ifaces = [i for i in root.findall("interface") if i.get("name") == NAME]
    if len(ifaces) != 1:
        sys.exit(f"FAIL {path}: {len(ifaces)} interfaces named {NAME}")
    out = {("interface", NAME): tuple(sorted((a.get("name"), a.get("value")) for a in ifaces[0].findall("annotation")))}
    for el in ifaces[0]:
        if el.tag == "annotation":
            continue
        args = tuple((a.get("name"), a.get("type"),
                      a.get("direction", "in" if el.tag == "method" else None)) for a in el.findall("arg"))
        ann = tuple(sorted((a.get("name"), a.get("value")) for a in el.findall("annotation")))
        out[(el.tag, el.get("name"))] = (el.get("type"), el.get("access"), args, ann)
    return out

doc, live = members(sys.argv[1]), members(sys.argv[2])
passed = failed = 0
for key in sorted(set(doc) | set(live), key=str):
    if doc.get(key) == live.get(key):
        print(f"ok   {key[0]} {key[1]}")
        passed += 1
    else:
        print(f"FAIL {key[0]} {key[1]}:\n       file: {doc.get(key)}\n       live: {live.get(key)}")
        failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
