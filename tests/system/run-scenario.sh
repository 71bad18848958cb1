#!/usr/bin/env bash
# Runs one scenario of the system tier: installs the build (meson install --destdir; for the
# "package" scenario, builds the .deb instead, which the scenario installs with apt-get), boots the
# cached Debian rootfs under systemd-nspawn with the installed files bound in, runs
# scenarios/NAME.sh inside, stops the container. Exit code: the scenario's (77: skipped).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

name=$1
skfp_sys_init "$name"
case $name in
package) skfp_sys_deb ;;        # the scenario installs the .deb itself
*) skfp_sys_install ;;
esac
skfp_sys_boot
echo "booted $SKFP_SYS_NAME (systemd $(skfp_sys_run systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'), pid $LEADER)"
rc=0
skfp_sys_scenario "$name" || rc=$?
exit $rc
