#!/usr/bin/env bash
# Runs libFuzzer on each fuzz target for FUZZ_SECONDS (default 60) seconds: `make fuzz`,
# or `scripts/fuzz.sh shadow http` for some targets. docs/fuzzing.md explains the targets.
#
# The build is separate (.build-fuzz, release, -sanitize=fuzzer). Each target's working corpus
# is .build-fuzz/corpus/TARGET, seeded from Tests/Fuzz/corpus/TARGET and kept between runs;
# a crash is written to .build-fuzz/crashes/TARGET/ and the run stops with its replay command.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(shadow mqtt manifest plugin-line cron program toml http sigv4); fi

swift build -c release --scratch-path .build-fuzz --product homehub-fuzz \
    -Xswiftc -sanitize=fuzzer -Xswiftc -DHOMEHUB_LIBFUZZER
fuzzer=.build-fuzz/release/homehub-fuzz

status=0
for target in "${targets[@]}"; do
    corpus=.build-fuzz/corpus/$target
    crashes=.build-fuzz/crashes/$target
    mkdir -p "$corpus" "$crashes"
    cp -n Tests/Fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
    echo "== $target: $seconds s (corpus $corpus, $(ls "$corpus" | wc -l) inputs)"
    # Swift's own backtracer would catch the crash first; libFuzzer must, to save the input.
    if SWIFT_BACKTRACE=enable=no HOMEHUB_FUZZ_TARGET=$target "$fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
        -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" \
        > ".build-fuzz/$target.log" 2>&1; then
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" ".build-fuzz/$target.log" | tr '\n' ' '
        echo "$(grep -oE 'cov: [0-9]+' ".build-fuzz/$target.log" | tail -1)"
    else
        status=1
        echo "!! $target found a crash; log: .build-fuzz/$target.log"
        grep -E "Fatal error|failed|SUMMARY|Test unit written" ".build-fuzz/$target.log" | head -5 || true
        for input in $(ls -t "$crashes" | head -3 | sed "s|^|$crashes/|"); do
            echo "   replay: swift build --product homehub-fuzz && .build/debug/homehub-fuzz $target $input"
            echo "   keep it: cp $input Tests/Fuzz/regressions/$target/"
        done
    fi
done
exit $status
