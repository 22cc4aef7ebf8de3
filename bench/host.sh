#!/usr/bin/env bash
# `atomic host status` benchmark (issue 6): `atomic host status --sysroot S` (which reads the
# sysroot itself, without libostree) vs `ostree admin status --sysroot S` on one sysroot with
# three deployments, built in a temp dir with the ostree CLI (the recipe of
# crates/atomic/tests/host_support). Both read the same sysroot; the target is that atomic
# takes no more wall time than ostree.
#
# Needs the ostree CLI, hyperfine and jq. Usage: bash bench/host.sh [RUNS]   (default 200)
# Prints both medians (ms) and the ratio atomic/ostree, from one hyperfine run in which the two
# commands alternate (see ROUNDS below).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-200}
# shellcheck source=scripts/env.sh
source scripts/env.sh
cargo build --release -q -p atomic -p atomic-ostree
ATOMIC=${CARGO_TARGET_DIR:-$PWD/target}/release/atomic

WORK=$(mktemp -d "${TMPDIR:-/tmp}/atomic-bench-host.XXXXXX")
# libostree makes deployments immutable (chattr +i): clear that before removing them.
trap 'chattr -R -i "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
S=$WORK/sysroot
mkdir "$S"
ostree admin init-fs "$S" >/dev/null
ostree admin --sysroot="$S" os-init testos >/dev/null

n=0
commit() { # VERSION: a minimal bootable tree committed to testos/stable
    n=$((n + 1))
    local tree=$WORK/tree-$n
    mkdir -p "$tree/usr/lib/modules/5.0.0" "$tree/usr/etc"
    printf 'ID=testos\nPRETTY_NAME="Test OS %s"\n' "$1" | tee "$tree/usr/etc/os-release" \
        >"$tree/usr/lib/os-release"
    echo "kernel $1" >"$tree/usr/lib/modules/5.0.0/vmlinuz"
    echo "initramfs $1" >"$tree/usr/lib/modules/5.0.0/initramfs.img"
    ostree --repo="$S/ostree/repo" commit -b testos/stable -s "$1" --tree=dir="$tree" \
        --timestamp="@$((1600000000 + n * 3600))" --add-metadata-string=version="$1" >/dev/null
}
for v in 1.0 2.0 3.0; do
    commit "$v"
    # --retain keeps every earlier deployment: three in the end.
    ostree admin --sysroot="$S" deploy --retain --os=testos testos/stable >/dev/null
done
deployments=$("$ATOMIC" host status --json --sysroot "$S" | jq '.deployments | length')
[ "$deployments" = 3 ] || { echo "expected 3 deployments, got $deployments" >&2; exit 1; }

# The machine is shared: load drifts while hyperfine runs one command after the other. So the
# two commands alternate in ROUNDS blocks within the one hyperfine run, and each median is
# taken over all of its tool's runs.
ROUNDS=4
names=()
for r in $(seq "$ROUNDS"); do
    names+=(-n "atomic-$r" "$ATOMIC host status --sysroot $S" -n "ostree-$r" "ostree admin status --sysroot=$S")
done
hyperfine -N --style basic --warmup 10 --runs "$((RUNS / ROUNDS))" --export-json "$WORK/h.json" \
    "${names[@]}" >/dev/null
jq -r '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def ms: . * 1000000 | round / 1000;
  (.results | map(select(.command | startswith("atomic"))) | map(.times) | add | median) as $a
  | (.results | map(select(.command | startswith("ostree"))) | map(.times) | add | median) as $o
  | (.results | map(select(.command | startswith("atomic"))) | map(.times) | add | length) as $n
  | "runs per tool        \($n)",
    "atomic host status   median \($a | ms) ms",
    "ostree admin status  median \($o | ms) ms",
    "ratio atomic/ostree  \($a / $o | . * 1000 | round / 1000)"
' "$WORK/h.json"
