#!/usr/bin/env bash
# Label-lifecycle benchmarks (issue: "Label-driven lifecycle on Docker and Podman").
#
#   atomic info IMG            vs  docker image inspect IMG, podman image inspect IMG
#   atomic run --display IMG   vs  podman container runlabel --display RUN IMG,
#                                  podman image inspect IMG
# and (issue 20, "Podman at native speed") the same two atomic commands on Podman with the
# containers-storage reader switched off (ATOMIC_PODMAN_STORAGE_READER=off: every answer
# through the podman command, as before the reader), and each against the original Python
# atomic's ~220 ms for any verb.
#
# Prints the median wall time of each command (hyperfine, one run of this script) and the
# ratios the issues name as anchors. Needs what scripts/setup.sh installs and starts.
# Usage: bash bench/labels.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-40}

[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null
# shellcheck source=scripts/env.sh
source scripts/env.sh
cargo build --release -q -p atomic -p atomic-testsupport
ATOMIC=$PWD/target/release/atomic
IMG=atomic-bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/atomic-testimage --name "$IMG" \
    --label 'RUN=docker run --rm --name ${NAME} ${IMAGE} /bin/true' \
    --label Name=atomic-bench --label Version=1 --label Release=1 \
    --docker-archive "$work/img.tar"
docker load -q -i "$work/img.tar" >/dev/null
podman load -q -i "$work/img.tar" >/dev/null

# Keep the machine's atomic.conf out of the measurement; the image is in both engines, so
# atomic is told which one (as --storage would).
export ATOMIC_CONF=$work/none.conf

hf() { # name, commands… → JSON in $work/name.json
    local name=$1; shift
    hyperfine -N -w 5 -r "$RUNS" --export-json "$work/$name.json" "$@" >/dev/null 2>&1
}
OFF="env ATOMIC_PODMAN_STORAGE_READER=off"
hf info "$ATOMIC info --storage docker $IMG" "docker image inspect $IMG" \
    "$ATOMIC info --storage podman $IMG" "podman image inspect $IMG" \
    "$OFF $ATOMIC info --storage podman $IMG"
hf display "$ATOMIC run --display --storage podman $IMG" \
    "podman container runlabel --display RUN $IMG" "podman image inspect $IMG" \
    "$ATOMIC run --display --storage docker $IMG" \
    "$OFF $ATOMIC run --display --storage podman $IMG"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
med = {}
for name in ("info", "display"):
    for r in json.load(open(f"{work}/{name}.json"))["results"]:
        med[r["command"]] = r["median"] * 1000
print(f"{'command':70} {'median ms':>10}")
for cmd, ms in med.items():
    print(f"{cmd.replace(sys.argv[1], '$work'):70} {ms:10.2f}")
def find(contains, off=False):
    return next(v for k, v in med.items()
                if contains in k and ("READER=off" in k) == off)
a_info_d = find("info --storage docker")
d_inspect = find("docker image inspect")
a_info_p = find("info --storage podman")
a_info_p_off = find("info --storage podman", off=True)
p_inspect = find("podman image inspect")
a_disp_p = find("run --display --storage podman")
a_disp_p_off = find("run --display --storage podman", off=True)
p_runlabel = find("runlabel")
ORIGINAL = 220.0
print()
print(f"atomic info (docker) / docker image inspect     = {a_info_d / d_inspect:.2f}   (anchor: <= 0.50)")
print(f"atomic info (podman) / podman image inspect     = {a_info_p / p_inspect:.2f}   (anchor: <= 0.30; reader off: {a_info_p_off / p_inspect:.2f})")
print(f"atomic run --display (podman) / podman image inspect = {a_disp_p / p_inspect:.2f}   (anchor: <= 0.30; reader off: {a_disp_p_off / p_inspect:.2f})")
print(f"atomic run --display (podman) / podman runlabel --display = {a_disp_p / p_runlabel:.2f}")
print(f"atomic info (podman) / original atomic (~220 ms)          = {a_info_p / ORIGINAL:.3f}")
print(f"atomic run --display (podman) / original atomic (~220 ms) = {a_disp_p / ORIGINAL:.3f}")
PY
