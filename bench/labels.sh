#!/usr/bin/env bash
# Label-lifecycle benchmarks (issue: "Label-driven lifecycle on Docker and Podman").
#
#   atomic info IMG            vs  docker image inspect IMG, podman image inspect IMG
#   atomic run --display IMG   vs  podman container runlabel --display RUN IMG,
#                                  podman image inspect IMG
#
# Prints the median wall time of each command (hyperfine, one run of this script) and the
# ratios the issue names as anchors. Needs what scripts/setup.sh installs and starts.
# Usage: bash bench/labels.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-40}

bash scripts/setup.sh >/dev/null
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
hf info "$ATOMIC info --storage docker $IMG" "docker image inspect $IMG" \
    "$ATOMIC info --storage podman $IMG" "podman image inspect $IMG"
hf display "$ATOMIC run --display --storage podman $IMG" \
    "podman container runlabel --display RUN $IMG" "podman image inspect $IMG" \
    "$ATOMIC run --display --storage docker $IMG"

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
def find(prefix, contains):
    return next(v for k, v in med.items() if contains in k and (prefix in k))
a_info_d = find("atomic", "info --storage docker")
d_inspect = find("docker image inspect", "docker image inspect")
a_info_p = find("atomic", "info --storage podman")
p_inspect = find("podman image inspect", "podman image inspect")
a_disp_p = find("atomic", "run --display --storage podman")
p_runlabel = find("runlabel", "runlabel")
print()
print(f"atomic info (docker) / docker image inspect     = {a_info_d / d_inspect:.2f}   (anchor: <= 0.50)")
print(f"atomic info (podman) / podman image inspect     = {a_info_p / p_inspect:.2f}")
print(f"atomic run --display (podman) / podman image inspect = {a_disp_p / p_inspect:.2f}   (anchor: <= 1.20)")
print(f"atomic run --display (podman) / podman runlabel --display = {a_disp_p / p_runlabel:.2f}")
PY
