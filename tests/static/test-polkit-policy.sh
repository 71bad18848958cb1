#!/usr/bin/env bash
# The polkit policy is valid against polkit's own DTD and defines org.skfastpath1.manage with
# defaults that need an administrator, and org.skfastpath1.steer-own-applications (yes only for
# active sessions).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

policy="$SKFP_TOP/dbus/org.skfastpath1.policy"
dtd=/usr/share/polkit-1/policyconfig-1.dtd
[ -f "$policy" ] || skip "dbus/org.skfastpath1.policy is not in this tree yet"
command -v xmllint >/dev/null || skip "xmllint (libxml2-utils) is not installed"
[ -f "$dtd" ] || skip "$dtd (polkitd) is not installed"

# The DOCTYPE names polkit's DTD by URL: a catalog maps it to the installed copy (no network).
catalog=$(mktemp)
trap 'rm -f "$catalog"' EXIT
cat >"$catalog" <<CATALOG
<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <public publicId="-//freedesktop//DTD polkit Policy Configuration 1.0//EN" uri="file://$dtd"/>
  <public publicId="-//freedesktop//DTD PolicyKit Policy Configuration 1.0//EN" uri="file://$dtd"/>
  <system systemId="http://www.freedesktop.org/software/polkit/policyconfig-1.dtd" uri="file://$dtd"/>
  <system systemId="http://www.freedesktop.org/standards/PolicyKit/1/policyconfig.dtd" uri="file://$dtd"/>
</catalog>
CATALOG
out=$(XML_CATALOG_FILES=$catalog xmllint --noout --nonet --valid --dtdvalid "$dtd" "$policy" 2>&1)
check "valid against $dtd" test -z "$out"
[ -z "$out" ] || indent <<<"$out"
ids=$(xmllint --xpath '//action/@id' "$policy" 2>/dev/null | sed 's/ id="\([^"]*\)"/\1\n/g' | sed '/^$/d' | sort | tr '\n' ' ')
check "defines exactly org.skfastpath1.manage and org.skfastpath1.steer-own-applications ($ids)" \
        test "$ids" = "org.skfastpath1.manage org.skfastpath1.steer-own-applications "
for d in allow_any allow_inactive allow_active; do
        v=$(xmllint --xpath "string(//action[@id='org.skfastpath1.manage']/defaults/$d)" "$policy" 2>/dev/null)
        case "$v" in
        auth_admin | auth_admin_keep) ok "$d=$v" ;;
        *) fail "$d=$v (changes must need an administrator by default)" ;;
        esac
done
# a user steering their own applications (the daemon checks the path against the caller's uid):
# no password in an active local session, an administrator anywhere else
for d in allow_any allow_inactive allow_active; do
        v=$(xmllint --xpath "string(//action[@id='org.skfastpath1.steer-own-applications']/defaults/$d)" "$policy" 2>/dev/null)
        case "$d=$v" in
        allow_active=yes | allow_any=auth_admin | allow_inactive=auth_admin) ok "steer-own-applications $d=$v" ;;
        *) fail "steer-own-applications $d=$v (yes for active sessions only, else auth_admin)" ;;
        esac
done
installed=$(find "$(install_tree polkit-policy)" -name org.skfastpath1.policy | head -n1)
case "$installed" in
*/usr/share/polkit-1/actions/org.skfastpath1.policy) ok "installed in /usr/share/polkit-1/actions" ;;
*) fail "installed as '$installed', not where polkitd looks" ;;
esac
finish
