#!/usr/bin/env bash
# Networking benchmark (issue 16: "The built-in engine becomes a full engine").
#
#   atomic run --rm IMG true on the default bridge (the built-in driver)  vs  the same with
#     --network none (the network's own cost)  vs  the same through netavark (atomic.conf
#     network_driver: netavark)  vs  podman run --rm IMG true (its default network)
#     vs  docker run --rm IMG true
#   time to first byte: `run -d -p 127.0.0.1:PORT:80 … busybox httpd` until an HTTP GET on the
#     host answers, for atomic, podman and docker (then the container is removed, untimed)
#
# Prints medians (hyperfine, one run of this script) and the ratios the issue names (anchors:
# podman / networked atomic >= 4; network's own cost < 15 ms). Needs what scripts/setup.sh
# installs and starts. dockerd runs here with --bridge=none, so docker's figures are for
# `--network none` (docker cannot publish ports without its bridge): its TTFB line is skipped.
# Usage: bash bench/network.sh [RUNS]   (default 20). ATOMIC=path picks the binary (default:
# a release build, made here).
set -euo pipefail
[ "${BENCH_DEBUG:-0}" = 1 ] && set -x
cd "$(dirname "$0")/.."
RUNS=${1:-20}

[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null
# shellcheck source=scripts/env.sh
source scripts/env.sh
if [ -z "${ATOMIC:-}" ]; then
    cargo build --release -q -p atomic -p atomic-testsupport
    ATOMIC=$PWD/target/release/atomic
fi
TESTIMAGE=$(dirname "$ATOMIC")/atomic-testimage
IMG=localhost/i16-bench-net:latest
PORT=18178

work=$(mktemp -d "${TMPDIR:-/var/tmp}/atomic-bench-net.XXXXXX")
cleanup() {
    for store in "$work"/store "$work"/store-nv; do
        ATOMIC_STORE_ROOT=$store "$ATOMIC" containers delete -a -f -y --storage native \
            >/dev/null 2>&1 || true
    done
    podman rm -f i16-bench-web >/dev/null 2>&1 || true
    # A bridge a failed run left; deleting the containers above removes the others.
    for net in "$work"/store/networks/*.json; do
        [ -e "$net" ] || continue
        bridge=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["network_interface"])' "$net")
        ip link del "$bridge" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
# The machine's atomic.conf stays out of the measurement; the store (and so its default
# network, on a bridge of its own) is this run's.
printf 'default_network_subnet: 10.96.250.0/24\n' >"$work/atomic.conf"
printf 'default_network_subnet: 10.96.251.0/24\nnetwork_driver: netavark\n' >"$work/netavark.conf"
export ATOMIC_CONF=$work/atomic.conf ATOMIC_STORE_ROOT=$work/store

mkdir -p "$work/www"
echo "hello from the bench" >"$work/www/index.html"
"$TESTIMAGE" --name "${IMG%:*}" --file "/www/index.html=$work/www/index.html" \
    --oci "$work/i16-bench-net" --docker-archive "$work/img.tar"
docker load -q -i "$work/img.tar" >/dev/null
podman load -q -i "$work/img.tar" >/dev/null
"$ATOMIC" pull -q "oci:$work/i16-bench-net" >/dev/null
# netavark's figure comes from a store of its own: a network's containers share one driver.
ATOMIC_STORE_ROOT=$work/store-nv "$ATOMIC" pull -q "oci:$work/i16-bench-net" >/dev/null
NV="env ATOMIC_CONF=$work/netavark.conf ATOMIC_STORE_ROOT=$work/store-nv"

D="$ATOMIC native-docker docker"
# The default bridge is there before a run, as on a host: the host store's `atomic0` stays
# once made (as docker0), while another store's bridge, like this one's, goes with its last
# container; a detached container keeps it up. netavark's global chains are made once too.
$D run -d --name i16-bench-keep "$IMG" sleep 1000000 >/dev/null
$D run --rm "$IMG" true
$NV $D run --rm "$IMG" true

# atomic with and without the network alternate in ROUNDS blocks (a few ms apart, less than
# a shared machine's drift over one block); podman and docker are slower and run once.
ROUNDS=4
for round in $(seq "$ROUNDS"); do
    hyperfine -N -w 2 -r "$(( (RUNS + ROUNDS - 1) / ROUNDS ))" \
        --export-json "$work/close-$round.json" \
        -n "atomic bridge" "$D run --rm $IMG true" \
        -n "atomic none" "$D run --rm --network none $IMG true" >/dev/null
done
hyperfine -N -w 2 -r "$RUNS" --export-json "$work/engines.json" \
    -n "atomic netavark" "$NV $D run --rm $IMG true" \
    -n "podman bridge" "podman run --rm $IMG true" \
    -n "docker none" "docker run --rm $IMG true" >/dev/null

# Time to first byte: start detached with a published port, then GET until it answers.
HTTPD="$IMG busybox httpd -f -p 80 -h /www"
for engine in atomic podman; do
    run=$D
    [ "$engine" = podman ] && run=podman
    cat >"$work/ttfb-$engine.sh" <<EOF
set -e
$run run -d --name i16-bench-web -p 127.0.0.1:$PORT:80 $HTTPD >/dev/null
until busybox wget -q -O /dev/null http://127.0.0.1:$PORT/ 2>/dev/null; do :; done
EOF
    echo "$run rm -f i16-bench-web >/dev/null 2>&1 || true" >"$work/stop-$engine.sh"
done
hyperfine -N -w 1 -r "$RUNS" --export-json "$work/ttfb.json" \
    --prepare "bash $work/stop-atomic.sh" -n "atomic ttfb" "bash $work/ttfb-atomic.sh" \
    >/dev/null
hyperfine -N -w 1 -r "$RUNS" --export-json "$work/ttfb-podman.json" \
    --prepare "bash $work/stop-podman.sh" -n "podman ttfb" "bash $work/ttfb-podman.sh" \
    >/dev/null

python3 - "$work" <<'PY'
import glob, json, statistics, sys
work = sys.argv[1]
times = {}
files = sorted(glob.glob(f"{work}/close-*.json")) + [
    f"{work}/engines.json", f"{work}/ttfb.json", f"{work}/ttfb-podman.json"]
for path in files:
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
med = {name: statistics.median(t) * 1000 for name, t in times.items()}
print(f"{'command':18} {'median ms':>10}")
for name, ms in med.items():
    print(f"{name:18} {ms:10.2f}")
print()
cost = med["atomic bridge"] - med["atomic none"]
print(f"network's own cost (bridge - none)   = {cost:.1f} ms   (anchor: < 15 ms)")
print(f"through netavark instead             = {med['atomic netavark'] - med['atomic none']:.1f} ms")
print(f"podman run / atomic run (bridge)     = {med['podman bridge'] / med['atomic bridge']:.2f}"
      "   (anchor: >= 4)")
print(f"docker run (none) / atomic run (bridge) = {med['docker none'] / med['atomic bridge']:.2f}")
print(f"podman ttfb / atomic ttfb            = {med['podman ttfb'] / med['atomic ttfb']:.2f}")
PY
