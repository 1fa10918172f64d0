#!/bin/bash
# The package's install test (`make package-test`, run by CI): installs dist/homehub_*.deb with
# apt in a throw-away root — an overlay over this machine's / whose upper layer is a tmpfs, in
# private mount and network namespaces — and runs Tests/Package/inside.sh there. Nothing it does
# reaches the machine: when it ends, the namespaces and the tmpfs are gone.
#
# Also builds the "upgrade" package (the same files, a higher version and a changed conffile,
# repacked with dpkg-deb) and runs lintian as an unprivileged user.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "install-test: needs root (namespaces, chroot)" >&2; exit 1; }
deb=$(ls dist/homehub_*_"$(dpkg --print-architecture)".deb 2>/dev/null | grep -v dbgsym | tail -1)
[ -n "$deb" ] || { echo "install-test: no dist/homehub_*.deb; run make deb" >&2; exit 1; }

work=$(mktemp -d /tmp/homehub-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"

# lintian, as nobody (it refuses root): no errors, no warnings (overrides carry their reasons).
cp "$deb" "$work/"
chmod 0644 "$work/$(basename "$deb")"
if ! su nobody -s /bin/sh -c "cd '$work' && lintian --fail-on error,warning '$work/$(basename "$deb")'" \
    > "$work/lintian.txt" 2>&1; then
    cat "$work/lintian.txt"
    echo "install-test: FAIL: lintian" >&2
    exit 1
fi
sed 's/^/  lintian: /' "$work/lintian.txt"
echo "install-test: ok: lintian (no errors, no warnings)"

# The upgrade: version +1, and the default hub.toml changed, as a real upgrade would.
Tests/Package/make-upgrade.sh "$deb" "$work/repack" "$work/upgrade"

mkdir -p "$work/root-layers"
unshare --mount --net --propagation private -- /bin/bash -euo pipefail -c '
    work=$1; deb=$2
    ip link set lo up
    mount -t tmpfs -o size=2g tmpfs "$work/root-layers"
    mkdir -p "$work/root-layers/upper" "$work/root-layers/work" "$work/root"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$work/root-layers/upper,workdir=$work/root-layers/work" "$work/root"
    mount --rbind /dev "$work/root/dev"
    mount -t proc proc "$work/root/proc"
    mount --rbind /sys "$work/root/sys"
    mount -t tmpfs tmpfs "$work/root/run"
    mount -t tmpfs tmpfs "$work/root/tmp"
    mkdir -p "$work/root/tmp/homehub-test/upgrade"
    cp "$deb" "$work/root/tmp/homehub-test/"
    cp "$work"/upgrade/*.deb "$work/root/tmp/homehub-test/upgrade/"
    cp Tests/Package/inside.sh Tests/Package/standin-systemd.py "$work/root/tmp/homehub-test/"
    chroot "$work/root" /bin/bash /tmp/homehub-test/inside.sh
' install-test "$work" "$deb" 2>&1 || { echo "install-test: FAIL" >&2; exit 1; }
echo "install-test: all checks passed"
