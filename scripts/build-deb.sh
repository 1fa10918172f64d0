#!/usr/bin/env bash
# Builds homehub_VERSION_ARCH.deb into dist/ (`make deb`). dpkg-buildpackage reads ./debian, so
# packaging/debian is copied there for the build and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in dpkg-buildpackage dh; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (scripts/install-deps.sh --packaging)" >&2; exit 1; }
done
rm -rf debian
cp -a packaging/debian debian
trap 'rm -rf debian' EXIT
dpkg-buildpackage -us -uc -b --no-sign
mkdir -p dist
version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
arch=$(dpkg --print-architecture)
for file in ../homehub_"${version}"_"${arch}".deb ../homehub-dbgsym_"${version}"_"${arch}".deb \
    ../homehub_"${version}"_"${arch}".buildinfo ../homehub_"${version}"_"${arch}".changes; do
    [ -e "$file" ] && mv "$file" dist/
done
echo "build-deb: dist/homehub_${version}_${arch}.deb ($(du -h "dist/homehub_${version}_${arch}.deb" | cut -f1))"
