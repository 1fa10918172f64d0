#!/bin/bash
# The "upgrade" package both package tests install: the same files as DEB, version +1, and the
# default hub.toml changed, as a real upgrade would. Usage: make-upgrade.sh DEB WORKDIR OUTDIR
set -euo pipefail
deb=$1 work=$2 out=$3
mkdir -p "$work" "$out"
dpkg-deb -R "$deb" "$work"
version=$(dpkg-deb -f "$deb" Version)
sed -i "s/^Version: .*/Version: ${version}+upgrade1/" "$work/DEBIAN/control"
echo "# (changed in ${version}+upgrade1)" >> "$work/etc/homehub/hub.toml"
(cd "$work" && find etc usr -type f -exec md5sum {} + > DEBIAN/md5sums)
dpkg-deb --root-owner-group -b "$work" "$out/homehub_${version}+upgrade1_$(dpkg --print-architecture).deb" > /dev/null
