# What the benchmarks that pull the generated image share (bench/pull.sh, bench/trust.sh):
# setup, the atomic binary, GNU time, the image, and one measurement under GNU time.
# Sourced, from the repository's root, by a script that has `set -euo pipefail`.

# bench_prepare SCRIPT: run scripts/setup.sh (unless SKIP_SETUP=1), load scripts/env.sh, build
# atomic in release mode unless $ATOMIC names a binary, and check GNU time ($TIME).
bench_prepare() {
    [ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null
    # shellcheck source=scripts/env.sh
    source scripts/env.sh
    if [ -z "${ATOMIC:-}" ]; then
        cargo build --release -q -p atomic
        ATOMIC=$PWD/target/release/atomic
    fi
    TIME=/usr/bin/time
    [ -x "$TIME" ] || { echo "$1 needs GNU time (apt-get install time)" >&2; exit 1; }
}

# bench_image: the generated image (6 gzip layers, ~300 MB uncompressed; made once, ≈40 s) in
# $BENCH_DIR/image; sets IMAGE.
bench_image() {
    if [ ! -f "$BENCH_DIR/image/gzip/index.json" ]; then
        rm -rf "$BENCH_DIR/image.tmp"
        python3 bench/pull-image.py "$BENCH_DIR/image.tmp"
        mv "$BENCH_DIR/image.tmp" "$BENCH_DIR/image"
    fi
    IMAGE=$BENCH_DIR/image
}

# fresh_caches: written-back data, and with DROP_CACHES=1 an empty page cache.
fresh_caches() {
    sync
    if [ "${DROP_CACHES:-0}" = 1 ]; then
        echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || echo "(cannot drop the page cache here)" >&2
    fi
}

# measure NAME CMD…: run CMD once under GNU time, append "NAME wall_s maxrss_kib" to
# $work/results ("NAME fail fail" when it fails, with the end of its output on stderr).
measure() {
    local name=$1; shift
    fresh_caches
    if "$TIME" -f '%e %M' -o "$work/time.out" "$@" >"$work/cmd.log" 2>&1; then
        echo "$name $(cat "$work/time.out")" >>"$work/results"
    else
        echo "FAILED: $name: $*" >&2
        tail -n 5 "$work/cmd.log" >&2
        echo "$name fail fail" >>"$work/results"
    fi
}
