#!/usr/bin/python3
"""Every config key the parser knows, every member of the D-Bus API and every command and
option of the programs is documented in the man pages, and the pages document nothing that
does not exist. The D-Bus names come from dbus/org.skfastpath1.xml when it is there, and
always include the contract list below (so the check works without the XML)."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

top = os.environ.get("SKFP_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
build = os.environ.get("SKFP_BUILD_ROOT") or os.path.join(top, "build")
passed = failed = 0

# The D-Bus API's contract: members that must exist whatever the XML says
CONTRACT_METHODS = ["AddInterface", "RemoveInterface", "AddPort", "RemovePort", "SetFastpath", "Revert",
                    "GetStatistics"]
CONTRACT_PROPERTIES = ["Interfaces", "Ports", "Fastpath", "ListenAddress", "Version", "RuntimeChanges"]
CONTRACT_ERRORS = ["org.skfastpath1.Error.InvalidInterfaceName", "org.skfastpath1.Error.InvalidPort",
                   "org.skfastpath1.Error.NotManaged", "org.skfastpath1.Error.LimitExceeded",
                   "org.skfastpath1.Error.Failed", "org.freedesktop.DBus.Error.AccessDenied",
                   "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"]


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what)


def page(name):
    with open(os.path.join(top, "man", name + ".scd"), encoding="utf-8") as f:
        return f.read()


def sections(text):
    """scdoc level-1 sections: {"HEADING": body}"""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^# (.*)$", line)
        if m:
            cur = m.group(1).strip()
            out[cur] = ""
        elif cur is not None:
            out[cur] += line + "\n"
    return out


# --- skfastpathd.conf(5) against the parser's config_known_keys
conf = sections(page("skfastpathd.conf.5"))
exe = os.path.join(build, "tests", "static", "print-config-keys")
keys = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split()
check(len(keys) > 10, f"the parser knows {len(keys)} keys")
documented = set()
for heading, body in conf.items():
    m = re.match(r"^\[(\w+)\] SECTION$", heading)
    if m:
        for k in re.findall(r"^\*(\w+)=\*$", body, re.M):
            documented.add(m.group(1) + "." + k)
for k in keys:
    section, key = k.split(".")
    check(k in documented, f"skfastpathd.conf(5) documents {key}= in [{section}]")
for k in sorted(documented - set(keys)):
    check(False, f"skfastpathd.conf(5) documents {k}, which the parser does not know")

# --- org.skfastpath1(5) against the introspection XML and the contract
api = sections(page("org.skfastpath1.5"))
methods, properties = list(CONTRACT_METHODS), list(CONTRACT_PROPERTIES)
errors, counters = list(CONTRACT_ERRORS), []
xml_path = os.path.join(top, "dbus", "org.skfastpath1.xml")
if os.path.exists(xml_path):
    print(f"     using {os.path.relpath(xml_path, top)} and the contract list")
    raw = open(xml_path, encoding="utf-8").read()
    iface = ET.fromstring(raw[raw.index("<node"):]).find("interface[@name='org.skfastpath1.Manager']")
    check(iface is not None, "the XML has interface org.skfastpath1.Manager")
    if iface is not None:
        xml_methods = [m.get("name") for m in iface.findall("method")]
        xml_properties = [p.get("name") for p in iface.findall("property")]
        methods += [m for m in xml_methods if m not in methods]
        properties += [p for p in xml_properties if p not in properties]
        documented_methods = set(re.findall(r"^\*(\w+)\*\(", api.get("METHODS", ""), re.M))
        for m in sorted(documented_methods - set(xml_methods)):
            check(False, f"org.skfastpath1(5) documents method {m}, which the XML does not have")
    errors += [e for e in re.findall(r"org\.(?:skfastpath1|freedesktop\.DBus)\.Error\.\w+", raw) if e not in errors]
    m = re.search(r"Counters by name[^:]*:(.*?)-->", raw, re.S)
    if m:
        counters = re.findall(r"[a-z]+(?:-[a-z]+)+", m.group(1))
else:
    print("     no dbus/org.skfastpath1.xml in this tree: checking the contract list")
for m in methods:
    check(re.search(r"^\*%s\*\(" % m, api.get("METHODS", ""), re.M), f"org.skfastpath1(5) documents method {m}()")
for p in properties:
    check(re.search(r"^\*%s\* \S+$" % p, api.get("PROPERTIES", ""), re.M), f"org.skfastpath1(5) documents property {p}")
for e in errors:
    check(re.search(r"^\*%s\*$" % re.escape(e), api.get("ERRORS", ""), re.M), f"org.skfastpath1(5) documents error {e}")
for c in counters:
    check(re.search(r"\*%s\*" % re.escape(c), api.get("METHODS", "")), f"org.skfastpath1(5) documents counter {c}")

# --- the programs' --help against their pages
def help_text(binary):
    path = os.path.join(build, "ctl" if binary == "skfastpathctl" else "daemon", binary)
    if not os.path.exists(path):
        print(f"     {binary} is not built in this tree: its options are not checked")
        return None
    return subprocess.run([path, "--help"], capture_output=True, text=True).stdout


text = help_text("skfastpathd")
if text is not None:
    man = page("skfastpathd.8")
    for opt in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))):
        check("*%s*" % opt in man, f"skfastpathd(8) documents {opt}")

text = help_text("skfastpathctl")
if text is not None:
    man = page("skfastpathctl.1")
    for opt in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))):
        check("*%s*" % opt in man, f"skfastpathctl(1) documents {opt}")
    block = re.search(r"^Commands:\n(.*?)\n\n", text, re.S | re.M)
    commands = re.findall(r"^\s+([a-z][a-z-]*)", block.group(1), re.M) if block else []
    check(commands, f"skfastpathctl --help lists commands ({' '.join(commands)})")
    cmds_doc = sections(man).get("COMMANDS", "")
    for c in commands:
        check(re.search(r"^\*%s\*" % c, cmds_doc, re.M), f"skfastpathctl(1) documents the command {c}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
