#!/usr/bin/env bash
# Container start benchmark (issue 4: "Daemonless containers").
#
#   atomic run IMG (RUN label `docker run --rm ${IMAGE} /bin/true`, native storage)
#     vs  runc run of a prepared bundle of the same image (bare runc: the floor)
#     vs  runc run of the same image with atomic's own config.json, with and without its seccomp
#         filter (what atomic adds over runc; what compiling the filter costs runc)
#     vs  podman run --rm IMG /bin/true
#     vs  docker run --rm IMG /bin/true
#   atomic run --spc IMG2 /bin/true (native)  vs  podman run --rm with the same SPC flags
#
# Prints the median wall time of each (hyperfine, one run of this script; atomic and runc
# interleaved, see ROUNDS) and the ratios the
# issue names (anchors: atomic/runc <= 1.5, podman/atomic >= 4). Needs what scripts/setup.sh
# installs and starts. Usage: bash bench/run.sh [RUNS]   (default 30)
set -euo pipefail
[ "${BENCH_DEBUG:-0}" = 1 ] && set -x
cd "$(dirname "$0")/.."
RUNS=${1:-30}

[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null
# shellcheck source=scripts/env.sh
source scripts/env.sh
cargo build --release -q -p atomic -p atomic-testsupport
ATOMIC=$PWD/target/release/atomic
IMG=localhost/atomic-bench-run:latest
SPC=localhost/atomic-bench-spc:latest

work=$(mktemp -d "${TMPDIR:-/var/tmp}/atomic-bench-run.XXXXXX")
cleanup() {
    ATOMIC_STORE_ROOT=$work/store "$ATOMIC" containers delete -a -f -y --storage native \
        >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
# Keep the machine's atomic.conf out of the measurement; the store is this run's own.
export ATOMIC_CONF=$work/none.conf ATOMIC_STORE_ROOT=$work/store

target/release/atomic-testimage --name "${IMG%:*}" \
    --label 'RUN=docker run --rm ${IMAGE} /bin/true' \
    --oci "$work/atomic-bench-run" --docker-archive "$work/run.tar"
target/release/atomic-testimage --name "${SPC%:*}" \
    --oci "$work/atomic-bench-spc" --docker-archive "$work/spc.tar"
for tar in run spc; do
    docker load -q -i "$work/$tar.tar" >/dev/null
    podman load -q -i "$work/$tar.tar" >/dev/null
done
"$ATOMIC" pull -q "oci:$work/atomic-bench-run" >/dev/null
"$ATOMIC" pull -q "oci:$work/atomic-bench-spc" >/dev/null

# The bare-runc floor: the same image's files in a bundle of `runc spec`'s default config,
# running /bin/true without a terminal.
mkdir -p "$work/bundle/rootfs" "$work/mnt"
"$ATOMIC" mount --storage native "$IMG" "$work/mnt"
cp -a "$work/mnt/." "$work/bundle/rootfs/"
"$ATOMIC" unmount "$work/mnt"
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/bin/true"]
json.dump(spec, open(path, "w"))
PY

# The same floor with atomic's own config.json (its capabilities, masked paths and, above all,
# the host's default seccomp profile, which runc compiles on every start): atomic's overhead
# over runc running the very container atomic runs.
cid=$("$ATOMIC" native-docker docker create --name atomic-bench-config "$IMG" /bin/true)
mkdir -p "$work/bundle-atomic"
cp -a "$work/bundle/rootfs" "$work/bundle-atomic/rootfs"
# And once more without its seccomp filter: what compiling the filter costs runc at every start.
mkdir -p "$work/bundle-noseccomp"
python3 - "$ATOMIC_STORE_ROOT/containers/$cid/config.json" "$work" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["root"]["path"] = f"{sys.argv[2]}/bundle-atomic/rootfs"
json.dump(spec, open(f"{sys.argv[2]}/bundle-atomic/config.json", "w"))
del spec["linux"]["seccomp"]
json.dump(spec, open(f"{sys.argv[2]}/bundle-noseccomp/config.json", "w"))
PY

SPC_FLAGS="--privileged --net=host --pid=host --ipc=host -v /:/host -v /run:/run -e HOST=/host"
# atomic and the two runc floors are a few ms apart, less than the drift of a shared machine's
# load over one hyperfine block; so they alternate in ROUNDS blocks and each median is taken
# over all of a command's runs (as bench/host.sh does). podman and docker are far slower and
# run in one block.
ROUNDS=5
for round in $(seq "$ROUNDS"); do
    hyperfine -N -w 2 -r "$(( (RUNS + ROUNDS - 1) / ROUNDS ))" \
        --export-json "$work/close-$round.json" \
        -n atomic "$ATOMIC run --storage native $IMG" \
        -n runc "runc --root $work/runc run --bundle $work/bundle bench" \
        -n "runc (atomic's config)" "runc --root $work/runc run --bundle $work/bundle-atomic bench" \
        -n "  same, no seccomp" "runc --root $work/runc run --bundle $work/bundle-noseccomp bench" \
        >/dev/null
done
hyperfine -N -w 3 -r "$RUNS" --export-json "$work/run.json" \
    -n podman "podman run --rm $IMG /bin/true" \
    -n docker "docker run --rm $IMG /bin/true" >/dev/null
# The SPC container keeps its name (the original's default command has no --rm): each timed
# run starts from none, as podman's --rm run does.
hyperfine -N -w 3 -r "$RUNS" --export-json "$work/spc.json" \
    --prepare "$ATOMIC containers delete -a -f -y --storage native" \
    -n "atomic --spc" "$ATOMIC run --spc --storage native $SPC /bin/true" \
    -n "podman spc" "podman run --rm $SPC_FLAGS $SPC /bin/true" >/dev/null

python3 - "$work" <<'PY'
import glob, json, statistics, sys
work = sys.argv[1]
times = {}
files = sorted(glob.glob(f"{work}/close-*.json")) + [f"{work}/run.json", f"{work}/spc.json"]
for path in files:
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
med = {name: statistics.median(t) * 1000 for name, t in times.items()}
print(f"{'command':24} {'median ms':>10}")
for name, ms in med.items():
    print(f"{name:24} {ms:10.2f}")
print()
print(f"atomic run / runc run          = {med['atomic'] / med['runc']:.2f}   (anchor: <= 1.5)")
same = med["runc (atomic's config)"]
print(f"atomic run / runc run, atomic's config = {med['atomic'] / same:.2f}")
print(f"  runc compiling the seccomp filter = {same - med['  same, no seccomp']:.1f} ms; "
      f"runc with atomic's config / bare runc = {same / med['runc']:.2f}; "
      f"atomic's own part = {med['atomic'] - same:.1f} ms")
print(f"podman run / atomic run        = {med['podman'] / med['atomic']:.2f}   (anchor: >= 4)")
print(f"docker run / atomic run        = {med['docker'] / med['atomic']:.2f}")
print(f"podman spc / atomic run --spc  = {med['podman spc'] / med['atomic --spc']:.2f}")
PY
