#!/usr/bin/env bash
# Trust benchmark (issue 15: "Trust"): what signature verification costs a pull.
#
#   atomic pull --storage native  with a signedBy policy  vs  with insecureAcceptAnything
#   podman pull                   with the same two policies (beside it, for orientation)
#
# The image is bench/pull.sh's (6 gzip layers, ~300 MB uncompressed), pushed to the loopback
# registry with `skopeo copy --sign-by` (a gpg key made here) so its simple signature sits in a
# lookaside directory that a registries.d file names. Every run starts from an empty store
# (atomic: a fresh ATOMIC_STORE_ROOT; podman: a fresh --root/--runroot). Runs are interleaved.
# Prints the median wall time of each and the ratio the issue asks for
# (anchor: signedBy / insecureAcceptAnything <= 1.10).
#
# Usage: bash bench/trust.sh [RUNS]   (default 5)
#   SKIP_SETUP=1     do not run scripts/setup.sh first
#   ATOMIC=PATH      the atomic binary to measure (default: a release build, built here)
#   BENCH_DIR=DIR    where the generated image is kept (default /var/tmp/atomic-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
BENCH_DIR=${BENCH_DIR:-/var/tmp/atomic-bench}
REF=127.0.0.1:5000/atomic-bench/trust:latest

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_prepare bench/trust.sh
bench_image

work=$(mktemp -d "${TMPDIR:-/var/tmp}/atomic-bench-trust.XXXXXX")
# Podman refuses a --runroot longer than 50 characters.
runs=$(mktemp -d /tmp/abt.XXXXXX)
cleanup() {
    for root in "$work"/podman-*; do
        [ -d "$root" ] && podman --root "$root" --runroot "$runs/${root##*/}" rmi -a -f >/dev/null 2>&1 || true
    done
    rm -rf "$work" "$runs"
}
trap cleanup EXIT

# A signing key, a lookaside directory, registries.d (for atomic and skopeo by flag, for
# podman through $HOME/.config/containers/registries.d) and the two policies.
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key bench@atomic.test default default never 2>/dev/null
FPR=$(gpg --with-colons --fingerprint bench@atomic.test | awk -F: '/^fpr:/ {print $10; exit}')
gpg --export bench@atomic.test >"$work/key.gpg"
mkdir -p "$work/lookaside" "$work/home/.config/containers/registries.d"
REGD=$work/home/.config/containers/registries.d
printf 'default-docker:\n  lookaside: file://%s\n  lookaside-staging: file://%s\n' \
    "$work/lookaside" "$work/lookaside" >"$REGD/default.yaml"
cat >"$work/accept.json" <<EOF
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
cat >"$work/signed.json" <<EOF
{"default": [{"type": "reject"}],
 "transports": {"docker": {"127.0.0.1:5000": [
   {"type": "signedBy", "keyType": "GPGKeys", "keyPath": "$work/key.gpg"}]}}}
EOF
skopeo --insecure-policy --registries.d "$REGD" copy -q --dest-tls-verify=false \
    --sign-by "$FPR" "oci:$IMAGE/gzip:latest" "docker://$REF"

: >"$work/results"
for i in $(seq "$RUNS"); do
    echo "run $i/$RUNS" >&2
    for p in accept signed; do
        measure "atomic-$p" env ATOMIC_STORE_ROOT="$work/atomic-$p-$i" "$ATOMIC" \
            --signature-policy "$work/$p.json" --registries.d "$REGD" \
            pull --storage native -q --tls-verify=false "$REF"
        measure "podman-$p" env HOME="$work/home" podman --root "$work/podman-$p-$i" \
            --runroot "$runs/podman-$p-$i" pull -q --tls-verify=false \
            --signature-policy "$work/$p.json" "$REF"
    done
done

python3 - "$work/results" "$RUNS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, wall, rss = line.split()
    rows.setdefault(name, []).append(wall)
med = {}
print(f"{'pull (median of ' + sys.argv[2] + ' runs)':40} {'wall s':>8} {'failed':>7}")
for name in ["atomic-accept", "atomic-signed", "podman-accept", "podman-signed"]:
    ok = [float(w) for w in rows.get(name, []) if w != "fail"]
    failed = len(rows.get(name, [])) - len(ok)
    if ok:
        med[name] = statistics.median(ok)
        print(f"{name:40} {med[name]:8.2f} {failed:>7}")
    else:
        print(f"{name:40} {'n/a':>8} {failed:>7}")
print()
def ratio(a, b, label, anchor=""):
    if a in med and b in med:
        print(f"{label:40} {med[a] / med[b]:8.3f}   {anchor}")
ratio("atomic-signed", "atomic-accept", "atomic: signedBy / accept (wall)", "(anchor: <= 1.10)")
ratio("podman-signed", "podman-accept", "podman: signedBy / accept (wall)")
ratio("podman-signed", "atomic-signed", "podman / atomic, signedBy (wall)")
PY
