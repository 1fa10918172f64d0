#!/usr/bin/env bash
# Fails when the build log given on stdin has a compiler warning in the project's own code.
set -u
log=$(cat)
printf '%s\n' "$log" | grep -E "(error|warning):" | grep -vE "^\s" | sort -u > /tmp/homehub-warnings.$$ || true
own=$(grep -E "/(Sources|Tests|Plugins)/[^:]*:[0-9]+:[0-9]+: warning:" /tmp/homehub-warnings.$$ | grep -v "/.build/" || true)
rm -f /tmp/homehub-warnings.$$
if [ -n "$own" ]; then
    echo "check-warnings: the build has warnings in homehub's code:"
    printf '%s\n' "$own"
    exit 1
fi
echo "check-warnings: no warnings in homehub's code"
