#!/usr/bin/env bash
# Meta-image benchmark (issue 17): a three-component application whose images are in the
# loopback registry and not yet local.
#
#   atomic run APP --storage native (pulls the three images at once, then starts them in order)
#     vs  podman pull + podman run -d of the same three by hand, one after the other
#   and the pull phase of `atomic run` (it prints it) vs `atomic pull` of the largest image
#   alone: how much the parallel pull costs over the slowest single one.
#
# Every round starts from empty stores (a fresh native store; podman on a private root), so
# every image is pulled. Prints the medians and the ratios (anchor: podman by hand / atomic
# >= 3). Usage: bash bench/app.sh [ROUNDS]   (default 5; ATOMIC=path to use a built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}

if [ -z "${ATOMIC:-}" ]; then
    [ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null
    cargo build --release -q -p atomic -p atomic-testsupport
    ATOMIC=$PWD/target/release/atomic
    ATOMIC_TESTIMAGE=$PWD/target/release/atomic-testimage
fi
# shellcheck source=scripts/env.sh
source scripts/env.sh
REG=127.0.0.1:5000/atomic-bench-app

work=$(mktemp -d "${TMPDIR:-/var/tmp}/atomic-bench-app.XXXXXX")
export ATOMIC_CONF=$work/none.conf ATOMIC_APP_ROOT=$work/apps
cleanup() {
    for store in "$work"/store-*; do
        [ -d "$store" ] && ATOMIC_STORE_ROOT=$store "$ATOMIC" containers delete -a -f -y \
            --storage native >/dev/null 2>&1 || true
    done
    for root in "$work"/podman-*; do
        [ -d "$root" ] && podman --root "$root/root" --runroot "$root/run" rm -a -f >/dev/null 2>&1 || true
        [ -d "$root" ] && podman --root "$root/root" --runroot "$root/run" rmi -a -f >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Three images of different sizes (random data does not compress): 8, 16 and 32 MB.
SLEEPER='["/bin/sh","-c","trap \"exit 0\" TERM; while :; do sleep 1; done"]'
mkdir -p "$work/app/artifacts"
for spec in db:8 queue:16 api:32; do
    name=${spec%%:*} mb=${spec##*:}
    head -c "$((mb << 20))" /dev/urandom >"$work/$name.bin"
    "$ATOMIC_TESTIMAGE" --name "atomic-bench-app-$name" --cmd "$SLEEPER" \
        --file "/data.bin=$work/$name.bin" --oci "$work/oci-$name" >/dev/null
    skopeo --insecure-policy copy -q --dest-tls-verify=false \
        "oci:$work/oci-$name:latest" "docker://$REG-$name:latest"
    printf 'docker run -d $image\n' >"$work/app/artifacts/$name"
done
cat >"$work/app/Nulecule" <<NULECULE
specversion: 0.0.2
id: atomic-bench-app
graph:
  - {name: db, params: [{name: image, default: "$REG-db:latest"}], artifacts: {docker: [file://artifacts/db]}}
  - {name: queue, params: [{name: image, default: "$REG-queue:latest"}], artifacts: {docker: [file://artifacts/queue]}}
  - {name: api, params: [{name: image, default: "$REG-api:latest"}], artifacts: {docker: [file://artifacts/api]}}
NULECULE

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.4f\n", b - a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for i in $(seq 1 "$ROUNDS"); do
    # atomic: one command, fresh store.
    store=$work/store-$i
    t0=$(now)
    ATOMIC_STORE_ROOT=$store "$ATOMIC" run --storage native "$work/app" >"$work/run.out" 2>"$work/run.err"
    t1=$(now)
    elapsed "$t0" "$t1" >>"$work/atomic"
    sed -n 's/^Pulled 3 images in \([0-9.]*\) s$/\1/p' "$work/run.err" >>"$work/pullphase"
    ATOMIC_STORE_ROOT=$store "$ATOMIC" uninstall atomic-bench-app >/dev/null
    # The largest image alone, into a fresh store.
    t0=$(now)
    ATOMIC_STORE_ROOT=$work/single-$i "$ATOMIC" pull -q "$REG-api:latest" >/dev/null
    t1=$(now)
    elapsed "$t0" "$t1" >>"$work/single"
    rm -rf "$work/single-$i"
    # podman by hand, on a private root.
    root=$work/podman-$i
    p=(podman --root "$root/root" --runroot "$root/run")
    t0=$(now)
    for name in db queue api; do
        "${p[@]}" pull -q --tls-verify=false "$REG-$name:latest" >/dev/null
        "${p[@]}" run -d --name "bench-$name-$i" "$REG-$name:latest" >/dev/null
    done
    t1=$(now)
    elapsed "$t0" "$t1" >>"$work/podman"
    "${p[@]}" rm -f -t 0 "bench-db-$i" "bench-queue-$i" "bench-api-$i" >/dev/null
done

a=$(median <"$work/atomic")
pp=$(median <"$work/pullphase")
s=$(median <"$work/single")
p=$(median <"$work/podman")
printf '\n%-58s %8s\n' "median of $ROUNDS rounds" "seconds"
printf '%-58s %8.3f\n' "atomic run APP (3 pulls at once + 3 starts, native)" "$a"
printf '%-58s %8.3f\n' "podman pull + podman run -d, x3 in order" "$p"
printf '%-58s %8.3f\n' "pull phase of atomic run (3 images)" "$pp"
printf '%-58s %8.3f\n' "atomic pull of the largest image alone" "$s"
printf '\npodman by hand / atomic run: %sx (anchor >= 3)\n' "$(ratio "$p" "$a")"
printf 'pull phase / largest single pull: %sx (1.0 = fully parallel)\n' "$(ratio "$pp" "$s")"
