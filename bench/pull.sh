#!/usr/bin/env bash
# Pull benchmark (issue 3: "Built-in image store").
#
#   atomic pull --storage native   vs  podman pull   vs  skopeo copy docker://… oci:…
#   of one generated image (6 gzip layers, ~300 MB uncompressed, ~3,300 files, text-like and
#   random content) from the loopback registry; and unpacking the same 6 layers uncompressed:
#   tar -xf (one after the other) vs atomic's import of an uncompressed OCI layout
#   (`atomic pull oci:DIR`, which also hashes every blob and diff_id: a proxy for the unpacker).
#
# Every run starts from nothing: a fresh atomic store, a fresh podman --root/--runroot, a fresh
# skopeo destination (and, with DROP_CACHES=1, an empty page cache). Runs of the tools are
# interleaved so machine noise spreads over all of them. Run directories are removed only at
# the end: on ext4, creating files right after deleting thousands makes inode allocation skip
# the recently deleted inodes (`recently_deleted` in perf), which tripled the system time of
# whichever tool came next. So the script needs ~2 GB of disk per run under $TMPDIR
# (default /var/tmp). Prints the median wall time and peak
# RSS (GNU time's %M: the largest process) of each, and the ratios the issue asks for
# (anchor: podman/atomic >= 1.5, atomic peak RSS < 64 MiB).
#
# Needs what scripts/setup.sh installs and starts (podman, skopeo, docker-registry, python3,
# GNU time). Usage: bash bench/pull.sh [RUNS]    (default 5)
#   SKIP_SETUP=1   do not run scripts/setup.sh first
#   ATOMIC=PATH    the atomic binary to measure (default: a release build, built here)
#   BENCH_DIR=DIR  where the generated image is kept between runs (default /var/tmp/atomic-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
BENCH_DIR=${BENCH_DIR:-/var/tmp/atomic-bench}
REF=127.0.0.1:5000/atomic-bench/pull:latest

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_prepare bench/pull.sh
# The image: generated once, pushed every time (a no-op when the registry has it).
bench_image
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$IMAGE/gzip:latest" "docker://$REF"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/atomic-bench-pull.XXXXXX")
cleanup() {
    # podman's overlay mounts under a per-run root must go before the directory does.
    for root in "$work"/podman-*; do
        [ -d "$root" ] && podman --root "$root/root" --runroot "$root/run" rmi -a -f >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

tar_layers() { # DIR
    mkdir -p "$1"
    for t in "$IMAGE"/tars/layer*.tar; do
        tar -C "$1" -xf "$t"
    done
}
export -f tar_layers
export IMAGE

: >"$work/results"
for i in $(seq "$RUNS"); do
    echo "run $i/$RUNS" >&2
    measure "atomic-pull" env ATOMIC_STORE_ROOT="$work/atomic-$i" "$ATOMIC" pull --storage native \
        -q --tls-verify=false "$REF"
    measure "podman-pull" podman --root "$work/podman-$i/root" --runroot "$work/podman-$i/run" \
        pull -q --tls-verify=false "$REF"
    measure "skopeo-copy" skopeo --insecure-policy copy -q --src-tls-verify=false \
        "docker://$REF" "oci:$work/skopeo-$i:t"
    measure "tar-xf" bash -c 'tar_layers "$0"' "$work/tar-$i"
    measure "atomic-unpack" env ATOMIC_STORE_ROOT="$work/unpack-$i" "$ATOMIC" pull --storage native \
        -q "oci:$IMAGE/plain:latest"
done

python3 - "$work/results" "$RUNS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, wall, rss = line.split()
    rows.setdefault(name, []).append((wall, rss))
med = {}
print(f"{'command (median of ' + sys.argv[2] + ' runs)':40} {'wall s':>8} {'peak RSS MiB':>13} {'failed':>7}")
for name in ["atomic-pull", "podman-pull", "skopeo-copy", "tar-xf", "atomic-unpack"]:
    ok = [(float(w), int(r)) for w, r in rows.get(name, []) if w != "fail"]
    failed = len(rows.get(name, [])) - len(ok)
    if not ok:
        print(f"{name:40} {'n/a':>8} {'n/a':>13} {failed:>7}")
        continue
    wall = statistics.median(w for w, _ in ok)
    rss = statistics.median(r for _, r in ok) / 1024
    med[name] = (wall, rss)
    print(f"{name:40} {wall:8.2f} {rss:13.1f} {failed:>7}")
print()
def ratio(a, b, label, anchor=""):
    if a in med and b in med:
        print(f"{label:40} {med[a][0] / med[b][0]:8.2f}   {anchor}")
ratio("podman-pull", "atomic-pull", "podman pull / atomic pull (wall)", "(anchor: >= 1.50)")
ratio("skopeo-copy", "atomic-pull", "skopeo copy / atomic pull (wall)")
ratio("tar-xf", "atomic-unpack", "tar -xf / atomic unpack (wall)")
if "atomic-pull" in med:
    print(f"{'atomic pull peak RSS (MiB)':40} {med['atomic-pull'][1]:8.1f}   (anchor: < 64)")
PY
