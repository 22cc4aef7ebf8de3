#!/usr/bin/env bash
# Kubernetes objects from a workload (issue: "atomic kube generate|apply").
#
#   atomic kube generate IMG   (its RUN label; native, docker and podman storage)
#   vs  podman generate kube CTR (a container created with the label's flags)
#
# Prints the median wall time of each command (hyperfine, one run of this script) and the
# ratio the issue names as its anchor (podman generate kube / atomic kube generate >= 5).
# Needs what scripts/setup.sh installs and starts.
# Usage: bash bench/kube.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}

[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null
# shellcheck source=scripts/env.sh
source scripts/env.sh
cargo build --release -q -p atomic -p atomic-testsupport
ATOMIC=$PWD/target/release/atomic
IMG=localhost/atomic-bench-kube:latest
CTR=atomic-bench-kube-$$
FLAGS=(-p 8080:80 -v /var/log:/logs:ro --cap-add NET_ADMIN -e MODE=prod --restart always)

work=$(mktemp -d "${TMPDIR:-/var/tmp}/atomic-bench-kube.XXXXXX")
cleanup() {
    podman rm -f "$CTR" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
# Keep the machine's atomic.conf out of the measurement; the native store is this run's own.
export ATOMIC_CONF=$work/none.conf ATOMIC_STORE_ROOT=$work/store

target/release/atomic-testimage --name "${IMG%:*}" \
    --label "RUN=docker run -d ${FLAGS[*]} --name \${NAME} \${IMAGE} /bin/httpd -f -p 80" \
    --oci "$work/atomic-bench-kube" --docker-archive "$work/img.tar" >/dev/null
docker load -q -i "$work/img.tar" >/dev/null
podman load -q -i "$work/img.tar" >/dev/null
# The layout directory's name is the name the image gets in the native store.
"$ATOMIC" pull -q "oci:$work/atomic-bench-kube" >/dev/null
# The same workload as a podman container, which is what podman generate kube reads.
podman create -q --name "$CTR" "${FLAGS[@]}" "$IMG" /bin/httpd -f -p 80 >/dev/null

hyperfine -N -w 5 -r "$RUNS" --export-json "$work/kube.json" \
    -n "atomic kube generate (native)" "$ATOMIC kube generate -q --storage native $IMG" \
    -n "atomic kube generate (docker)" "$ATOMIC kube generate -q --storage docker $IMG" \
    -n "atomic kube generate (podman)" "$ATOMIC kube generate -q --storage podman $IMG" \
    -n "podman generate kube" "podman generate kube $CTR" >/dev/null

python3 - "$work/kube.json" <<'PY'
import json, sys
med = {r["command"]: r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
print(f"{'command':40} {'median ms':>10}")
for cmd, ms in med.items():
    print(f"{cmd:40} {ms:10.2f}")
podman = med["podman generate kube"]
print()
for store in ("native", "docker", "podman"):
    ratio = podman / med[f"atomic kube generate ({store})"]
    anchor = "   (anchor: >= 5)" if store == "native" else ""
    print(f"podman generate kube / atomic kube generate ({store}) = {ratio:.1f}x{anchor}")
PY
