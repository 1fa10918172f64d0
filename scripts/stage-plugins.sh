#!/usr/bin/env bash
# Puts the bundled plugins, as the hub finds them (a folder each: manifest.json + executable),
# into DIR. Usage: scripts/stage-plugins.sh DIR [debug|release]
set -euo pipefail
target=${1:?usage: stage-plugins.sh DIR [debug|release]}
configuration=${2:-debug}
products=".build/$configuration"
for plugin in heater doorlock motor zigbee2mqtt; do
    mkdir -p "$target/$plugin"
    cp "Plugins/$plugin/manifest.json" "$target/$plugin/"
    cp "$products/homehub-plugin-$plugin" "$target/$plugin/"
done
mkdir -p "$target/switch"
cp Plugins/examples/switch/manifest.json Plugins/examples/switch/switch.py "$target/switch/"
echo "stage-plugins: heater, doorlock, motor, zigbee2mqtt, switch in $target"
