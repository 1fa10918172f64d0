#!/bin/bash
# The package under a real systemd: a debootstrapped Debian 12 booted with systemd-nspawn
# (systemd as PID 1), the package installed with apt, and every check of the install test run
# against the real PID 1 (Tests/Package/systemd-inside.sh). Run by `make package-test` after the
# throw-away-root test's static checks; where nspawn cannot boot a container it says so and exits
# 77, and `make package-test` runs the install test's stand-in for systemd instead.
#
# The Debian root is cached in $HOMEHUB_NSPAWN_CACHE (default /var/cache/homehub-nspawn, about
# 250 MB, 30 s to make); each run boots an overlay over it whose upper layer is thrown away.
# No machinectl here: the container is not registered (--register=no --keep-unit) and the test
# enters it with nsenter.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "systemd-test: needs root (debootstrap, nspawn)" >&2; exit 1; }
deb=$(ls dist/homehub_*_"$(dpkg --print-architecture)".deb 2>/dev/null | grep -v dbgsym | tail -1)
[ -n "$deb" ] || { echo "systemd-test: no dist/homehub_*.deb; run make deb" >&2; exit 1; }
for tool in systemd-nspawn debootstrap nsenter; do
    command -v "$tool" > /dev/null || { echo "systemd-test: SKIPPED: no $tool (scripts/install-deps.sh installs it)"; exit 77; }
done

cache=${HOMEHUB_NSPAWN_CACHE:-/var/cache/homehub-nspawn}
if [ ! -x "$cache/bookworm/lib/systemd/systemd" ]; then
    echo "systemd-test: making a Debian 12 root in $cache/bookworm (debootstrap, once)"
    rm -rf "$cache/bookworm.partial"
    mkdir -p "$cache"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates bookworm \
        "$cache/bookworm.partial" http://deb.debian.org/debian > "$cache/debootstrap.log" 2>&1 ||
        { tail -20 "$cache/debootstrap.log"; echo "systemd-test: FAIL: debootstrap" >&2; exit 1; }
    mv "$cache/bookworm.partial" "$cache/bookworm"
fi

work=$(mktemp -d /tmp/homehub-nspawn.XXXXXX)
mkdir -p "$work/upper" "$work/overlay-work" "$work/root" "$work/pkg/upgrade"
cp "$deb" "$work/pkg/"
# The upgrade package: version +1 and a changed conffile (as the install test makes it).
Tests/Package/make-upgrade.sh "$deb" "$work/repack" "$work/pkg/upgrade"
cp Tests/Package/systemd-inside.sh "$work/pkg/"
# apt reads local packages as its sandbox user, _apt.
chmod 0755 "$work" "$work/pkg" "$work/pkg/upgrade"
chmod 0644 "$work"/pkg/*.deb "$work"/pkg/upgrade/*.deb

mount -t overlay overlay -o "lowerdir=$cache/bookworm,upperdir=$work/upper,workdir=$work/overlay-work" "$work/root"
nspawn=""
cleanup() {
    if [ -n "$nspawn" ] && kill -0 "$nspawn" 2> /dev/null; then
        kill "$nspawn" 2> /dev/null || true   # SIGTERM: the container powers off
        for _ in $(seq 100); do kill -0 "$nspawn" 2> /dev/null || break; sleep 0.1; done
        kill -9 "$nspawn" 2> /dev/null || true
    fi
    umount "$work/root" 2> /dev/null || umount -l "$work/root" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

systemd-nspawn --boot --register=no --keep-unit --console=passive --machine=homehub-test \
    -D "$work/root" --bind-ro="$work/pkg:/pkg" > "$work/nspawn.log" 2>&1 &
nspawn=$!
init=""
for _ in $(seq 300); do
    init=$(pgrep -P "$nspawn" -x systemd || true)
    [ -n "$init" ] && break
    kill -0 "$nspawn" 2> /dev/null || break
    sleep 0.1
done
if [ -z "$init" ]; then
    cat "$work/nspawn.log"
    echo "systemd-test: SKIPPED: systemd-nspawn could not boot a container here (see above); the stand-in for systemd runs instead"
    exit 77
fi
inside() { nsenter -t "$init" -m -u -i -n -p -- "$@"; }
state=$(timeout 120 nsenter -t "$init" -m -u -i -n -p -- systemctl is-system-running --wait || true)
echo "systemd-test: container booted, systemd $(inside systemctl --version | head -1 | cut -d' ' -f2) as PID 1 ($state)"
inside /bin/bash /pkg/systemd-inside.sh
echo "systemd-test: all checks passed"
