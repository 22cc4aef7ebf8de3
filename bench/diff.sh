#!/usr/bin/env bash
# `atomic diff` against what Podman offers for the same question.
#
#   atomic diff IMG CTR               (every file of both roots hashed: sha256 of ~100 MB each)
#   atomic diff -k type,mode,size IMG CTR   (metadata only, no hashing)
#   atomic diff -r -n IMG CTR         (packages only: dpkg status of both)
#   podman diff IMG CTR               (podman's answer: the container layer's changes only)
#
# IMG is the systemd host image scripts/setup.sh builds (Debian, ~100 MB); CTR a container of it
# that changed three files. Prints the median wall time of each (hyperfine, one run of this
# script) and each atomic form's ratio to podman diff. Usage: bash bench/diff.sh [RUNS]
# (ATOMIC=path/to/atomic to measure another build than target/release/atomic).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}

# shellcheck source=scripts/env.sh
source scripts/env.sh
if [ -z "${ATOMIC:-}" ]; then
    cargo build --release -q -p atomic
    ATOMIC=$PWD/target/release/atomic
fi
IMG=localhost/atomic-systemd-host:latest
podman image exists "$IMG" || { echo "needs $IMG: run scripts/setup.sh" >&2; exit 1; }

work=$(mktemp -d)
ctr=bench-diff-$$
cleanup() { podman rm -f "$ctr" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
podman run --name "$ctr" "$IMG" sh -c \
    'echo changed > /etc/motd; rm -f /etc/issue; date > /var/tmp/date.txt' >/dev/null
export ATOMIC_CONF=$work/none.conf

hyperfine -N -w 2 -r "$RUNS" --export-json "$work/diff.json" \
    "$ATOMIC diff --storage podman $IMG $ctr" \
    "$ATOMIC diff --storage podman -k type,mode,size $IMG $ctr" \
    "$ATOMIC diff --storage podman -r -n $IMG $ctr" \
    "podman diff $IMG $ctr" >/dev/null 2>&1

python3 - "$work/diff.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
med = {r["command"]: r["median"] * 1000 for r in results}
podman = next(v for k, v in med.items() if k.startswith("podman diff"))
print(f"{'command':90} {'median ms':>10} {'/ podman diff':>14}")
for cmd, ms in med.items():
    print(f"{cmd:90} {ms:10.1f} {ms / podman:14.2f}")
PY
