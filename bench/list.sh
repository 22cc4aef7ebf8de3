#!/usr/bin/env bash
# Listing benchmarks (issue 20, "Podman at native speed"):
#
#   atomic images list --storage podman   vs  podman images                (50+ images)
#   atomic containers list (every engine) vs  podman ps -a + docker ps -a  (20 containers:
#                                             10 in Podman, 10 in Docker, none running)
#
# each also with the containers-storage reader switched off (ATOMIC_PODMAN_STORAGE_READER=off:
# every Podman answer through the podman command, as before the reader) and against the
# original Python atomic's ~220 ms for any verb. The machine's own images and containers count
# too (the store is shared); the script adds 50 images and 20 containers of its own, named
# atomic-bench-list-*, and removes them at the end.
#
# Prints the median wall time of each command (hyperfine, one run of this script) and the
# ratios the issue names as anchors. Needs what scripts/setup.sh installs and starts.
# Usage: bash bench/list.sh [RUNS]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
IMAGES=50
CONTAINERS=10 # per engine

[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null
# shellcheck source=scripts/env.sh
source scripts/env.sh
cargo build --release -q -p atomic -p atomic-testsupport
ATOMIC=$PWD/target/release/atomic
PREFIX=atomic-bench-list-$$

work=$(mktemp -d)
cleanup() {
    for i in $(seq 1 "$CONTAINERS"); do
        podman rm -f "$PREFIX-c$i" >/dev/null 2>&1 || true
        docker rm -f "$PREFIX-c$i" >/dev/null 2>&1 || true
    done
    # One podman process at a time (podman 4.3 loses concurrent updates to its store).
    for i in $(seq 1 "$IMAGES"); do
        podman rmi -f "localhost/$PREFIX-$i" >/dev/null 2>&1 || true
    done
    docker rmi -f "$PREFIX-1" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
export ATOMIC_CONF=$work/none.conf ATOMIC_STORE_ROOT=$work/store

# Distinct images (a label each), so each is its own image, not another name of one.
for i in $(seq 1 "$IMAGES"); do
    target/release/atomic-testimage --name "$PREFIX-$i" --label "Round=$i" \
        --label 'RUN=docker run --rm ${IMAGE} /bin/true' --docker-archive "$work/img.tar" >/dev/null
    podman load -q -i "$work/img.tar" >/dev/null
done
docker load -q -i "$work/img.tar" >/dev/null
for i in $(seq 1 "$CONTAINERS"); do
    podman create -q --name "$PREFIX-c$i" "localhost/$PREFIX-$i" /bin/true >/dev/null
    docker create --name "$PREFIX-c$i" "$PREFIX-$IMAGES" /bin/true >/dev/null
done
echo "podman: $(podman images -q | wc -l) images, $(podman ps -aq | wc -l) containers;" \
    "docker: $(docker ps -aq | wc -l) containers"

OFF="env ATOMIC_PODMAN_STORAGE_READER=off"
hf() { # name, commands… → JSON in $work/name.json
    local name=$1; shift
    hyperfine -N -w 3 -r "$RUNS" --export-json "$work/$name.json" "$@" >/dev/null 2>&1
}
hf images "$ATOMIC images list --storage podman" "podman images" \
    "$OFF $ATOMIC images list --storage podman"
hf containers "$ATOMIC containers list" "podman ps -a" "docker ps -a" \
    "$OFF $ATOMIC containers list"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
med = {}
for name in ("images", "containers"):
    for r in json.load(open(f"{work}/{name}.json"))["results"]:
        med[r["command"]] = r["median"] * 1000
print(f"{'command':70} {'median ms':>10}")
for cmd, ms in med.items():
    print(f"{cmd:70} {ms:10.2f}")
def find(contains, off=False):
    return next(v for k, v in med.items() if contains in k and ("READER=off" in k) == off)
a_images = find("images list")
a_images_off = find("images list", off=True)
p_images = find("podman images")
a_ctrs = find("containers list")
a_ctrs_off = find("containers list", off=True)
ps_both = find("podman ps -a") + find("docker ps -a")
ORIGINAL = 220.0
print()
print(f"atomic images list (podman) / podman images           = {a_images / p_images:.2f}   (anchor: <= 0.30; reader off: {a_images_off / p_images:.2f})")
print(f"atomic containers list / (podman ps -a + docker ps -a) = {a_ctrs / ps_both:.2f}   (anchor: <= 0.50; reader off: {a_ctrs_off / ps_both:.2f})")
print(f"atomic images list (podman) / original atomic (~220 ms) = {a_images / ORIGINAL:.3f}")
print(f"atomic containers list / original atomic (~220 ms)      = {a_ctrs / ORIGINAL:.3f}")
PY
