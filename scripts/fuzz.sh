#!/usr/bin/env bash
# Runs every fuzz target (fuzz/) for SECONDS each (default 60), one after the other, with the
# stable toolchain: no nightly and no sanitizer, but libFuzzer's coverage guidance, overflow
# checks and debug assertions (the recipe at the top of fuzz/Cargo.toml). Fails as soon as a
# target crashes, panics, runs out of memory or hangs; the input that did it is kept in
# $CARGO_TARGET_DIR/artifacts/TARGET/ (add it to crates/atomic-store/tests/fuzz-regressions/
# once fixed). Each run starts from the regression inputs of its target.
#
# Usage: scripts/fuzz.sh [SECONDS]   (CI: scripts/test.sh runs it with 60)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
# Its own target directory (other flags than the workspace's: sharing one would rebuild both
# every time), under the workspace's so that one `cargo clean` removes it.
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/target/fuzz}
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
triple=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --manifest-path fuzz/Cargo.toml --target "$triple" --bins
bin=$CARGO_TARGET_DIR/$triple/release

# target:max_len (the longest input worth trying for that parser)
for spec in unpack:24576 manifest:16384 registry_manifest:16384 config_files:4096; do
    target=${spec%%:*}
    corpus=$(mktemp -d)
    artifacts=$CARGO_TARGET_DIR/artifacts/$target/
    mkdir -p "$artifacts"
    for seed in crates/atomic-store/tests/fuzz-regressions/"$target"-*; do
        [ -e "$seed" ] && cp "$seed" "$corpus/"
    done
    log=$CARGO_TARGET_DIR/fuzz-$target.log
    echo "fuzz: $target for ${seconds}s"
    if ! "$bin/$target" "$corpus" -max_total_time="$seconds" -max_len="${spec#*:}" \
        -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$artifacts" \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz: $target FAILED; the input is in $artifacts" >&2
        rm -rf "$corpus"
        exit 1
    fi
    grep -E '^(Done|stat::number_of_executed_units)' "$log" || true
    rm -rf "$corpus"
done
