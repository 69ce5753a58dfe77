#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build a local systemd base image for lab hosts: debootstrap + podman import.
# No registry is reachable on the machines mailfort is developed on, so every lab
# image starts from Debian's package mirror. The image carries a label with the
# hash of this recipe; it is rebuilt only when the recipe (this file) changes.
#
# usage: lab/build-image.sh debian12|debian13
set -euo pipefail

distro=${1:?usage: $0 debian12|debian13}
case "$distro" in
  debian12) suite=bookworm ;;
  debian13) suite=trixie ;;
  *) echo "unknown distro '$distro' (want debian12 or debian13)" >&2; exit 2 ;;
esac

mirror=${MAILFORT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
image="localhost/mailfort-base:${distro}"
recipe_hash=$(sha256sum "$0" | cut -c1-16)

current=$(podman image inspect --format '{{ index .Labels "mailfort.recipe" }}' "$image" 2>/dev/null || true)
if [ "$current" = "$recipe_hash" ]; then
  echo "$image is up to date (recipe $recipe_hash)"
  exit 0
fi

# Packages every lab host needs to boot systemd and be managed by Ansible.
include=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,procps,netbase,less

work=$(mktemp -d /var/tmp/mailfort-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "building $image from $suite (recipe $recipe_hash)"
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

security_suite="${suite}-security"
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror ${suite}-updates main
deb http://deb.debian.org/debian-security $security_suite main
SOURCES

# Fetch the package lists for all three suites, as on an installed host.
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
chroot "$rootfs" apt-get update -qq
# A unique machine-id is generated on first boot; resolv.conf comes from podman.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/etc/resolv.conf"
# Units that are useless or fail in a container.
for unit in systemd-remount-fs.service systemd-udevd.service systemd-udev-trigger.service \
            getty.target console-getty.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# LAB ONLY: give up on a stopping unit after 5 s instead of 90. On hosts with a
# hybrid cgroup v1 layout (the CI machines) systemd in a container never hears
# that a stopped unit's cgroup is empty, so `systemctl restart dovecot` waited
# out the whole default timeout although Dovecot had exited. systemd logs
# "State 'stop-sigterm' timed out" each time this fires; tests/lab-run.sh
# prints those lines per lab host before it removes the lab. Product units are
# untouched: this is the lab image's manager default only.
mkdir -p "$rootfs/etc/systemd/system.conf.d"
cat >"$rootfs/etc/systemd/system.conf.d/mailfort-lab.conf" <<'CONF'
[Manager]
DefaultTimeoutStopSec=5s
CONF
chroot "$rootfs" apt-get clean

tar -C "$rootfs" --numeric-owner -cf "$work/rootfs.tar" .
podman import \
  --change 'CMD ["/sbin/init"]' \
  --change 'ENV container=podman' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change "LABEL mailfort.recipe=$recipe_hash" \
  --change "LABEL mailfort.distro=$distro" \
  "$work/rootfs.tar" "$image" >/dev/null
echo "built $image"
