#!/usr/bin/python3
"""The packaged configuration file (debian/skfastpathd.conf, installed as the conffile
/etc/skfastpath/skfastpathd.conf) names every key the parser knows, each once, commented out,
in its own section, with the default skfastpathd.conf(5) documents; and it sets nothing: only
section headers are not comments, so the file as shipped means the built-in defaults."""
import os
import re
import subprocess
import sys

top = os.environ.get("SKFP_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
build = os.environ.get("SKFP_BUILD_ROOT") or os.path.join(top, "build")
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what)


conffile = os.path.join(top, "debian", "skfastpathd.conf")
if not os.path.exists(conffile):
    print("SKIP: no debian/skfastpathd.conf")
    sys.exit(77)

keys = subprocess.run([os.path.join(build, "tests", "static", "print-config-keys")],
                      check=True, capture_output=True, text=True).stdout.split()

# skfastpathd.conf(5): "# [Section] SECTION", then "*Key=*" and an indented paragraph that
# ends with "Default: VALUE."
documented = {}
section = None
entry = None
with open(os.path.join(top, "man", "skfastpathd.conf.5.scd"), encoding="utf-8") as f:
    for line in f:
        m = re.match(r"^# \[(\w+)\] SECTION", line)
        if m:
            section, entry = m.group(1), None
            continue
        if line.startswith("# "):
            section, entry = None, None
            continue
        m = re.match(r"^\*(\w+)=\*$", line.strip())
        if section and m:
            entry = section + "." + m.group(1)
            documented[entry] = ""
        elif entry and line.startswith("\t"):
            documented[entry] += " " + line.strip()
defaults = {}
for k, text in documented.items():
    m = re.search(r"Default:\s*(.*?)\.?\s*$", text)
    if m:
        v = m.group(1)
        defaults[k] = "" if v in ("none", "empty") else v

# the conffile: section headers, comments, and "#Key=Value" lines for the defaults
found = {}
section = None
setting = []
with open(conffile, encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        line = line.rstrip("\n")
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        if line.strip() == "":
            continue
        if not line.startswith("#"):
            setting.append("%d: %s" % (n, line))
            continue
        m = re.match(r"^#(\w+)=(.*)$", line)
        if m and section:
            found.setdefault(section + "." + m.group(1), []).append(m.group(2))

check(not setting, "the shipped file sets nothing, only section headers and comments %s" % (setting or ""))
for k in keys:
    values = found.get(k, [])
    check(len(values) == 1, "%s listed once under [%s] (%d times)" % (k, k.split(".")[0], len(values)))
    if len(values) == 1 and k in defaults:
        check(values[0] == defaults[k], "%s=%s is skfastpathd.conf(5)'s default (%r)" % (k, values[0], defaults[k]))
    elif k not in defaults:
        check(False, "%s has a Default: in skfastpathd.conf(5)" % k)
for k in sorted(set(found) - set(keys)):
    check(False, "%s in the shipped file is a key the parser knows" % k)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
