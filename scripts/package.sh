#!/usr/bin/env bash
# Builds atomic's Debian package with cargo-deb (metadata in crates/atomic/Cargo.toml):
#   bash scripts/package.sh [--deb-revision N] [--test-build]
# and prints the path of the .deb (under target/debian/) as its last line.
#
# Steps: the release binaries (atomic, atomic-ostree); from them the man pages (atomic(1) and
# one atomic-VERB(1) per verb, `atomic generate-man`) and the bash, zsh and fish completions
# (`atomic completion`), so both always match the command line being shipped; then
# `cargo deb --no-build` packs it all. --deb-revision sets the Debian revision (default 1):
# a second package of the same build with a higher one is an upgrade of the first. (cargo-deb
# deletes the packages of other versions from target/debian/ when it writes one there; the
# test builds, in target/debian/test-build/, are kept side by side.)
#
# --test-build packs the unoptimised binaries `cargo build --workspace` has already made in
# target/debug (scripts/test.sh builds them) instead of building release ones, and compresses
# lightly: the tests check the package's files, metadata and maintainer scripts, which do not
# depend on the optimisation level, and a release build costs ~270 s of CPU (~5 minutes on
# two cores). Such a package is for tests only, never to ship.
#
# Needs cargo (rustup); installs the Debian packages the build needs and cargo-deb
# (`cargo install cargo-deb --locked`, version 3.8.0) when they are missing.
# $ATOMIC_GIT_COMMIT names the commit for `atomic --version` where there is no .git (a
# tarball); in a git checkout the build finds it itself.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh

log() { printf 'package: %s\n' "$*" >&2; }

revision=1
test_build=false
while [[ $# -gt 0 ]]; do
    case $1 in
    --test-build)
        test_build=true
        shift
        ;;
    --deb-revision)
        [[ $# -ge 2 && $2 =~ ^[0-9A-Za-z.+~]+$ ]] || { log "--deb-revision needs a revision like 2"; exit 2; }
        revision=$2
        shift 2
        ;;
    *)
        log "unknown argument '$1'; usage: scripts/package.sh [--deb-revision N] [--test-build]"
        exit 2
        ;;
    esac
done

# What the build needs from Debian: a C toolchain for build scripts, libostree-dev for the
# helper, dpkg-dev for dpkg-shlibdeps (the shared-library Depends). Installed when missing.
BUILD_PACKAGES=(gcc g++ libc6-dev pkg-config libostree-dev dpkg-dev)
missing=()
for pkg in "${BUILD_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    [[ $EUID -eq 0 ]] || { log "missing build packages (install them as root): ${missing[*]}"; exit 1; }
    log "installing: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v cargo >/dev/null || { log "cargo not found: install a Rust toolchain (rustup, Rust >= 1.89)"; exit 1; }

# The version is pinned: cargo-deb announces that packing the dev profile (--test-build)
# will become an error in a later release.
if ! command -v cargo-deb >/dev/null; then
    log "installing cargo-deb (cargo install cargo-deb --locked --version 3.8.0)"
    cargo install cargo-deb --locked --version 3.8.0
fi

# Where the binaries are ($CARGO_TARGET_DIR, else the workspace's target/, then the profile's
# directory); cargo-deb reads the generated files from the same place: "target/release/" in
# Cargo.toml's assets stands for the directory of the profile in use.
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
if $test_build; then
    # Apart from real packages, so that one is never taken for the other.
    profile=(--profile dev --fast --strip --output "$target_dir/debian/test-build/")
    mkdir -p "$target_dir/debian/test-build"
    bin=$target_dir/debug
    for program in atomic atomic-ostree; do
        [[ -x $bin/$program ]] || { log "--test-build: no $bin/$program; run cargo build --workspace first"; exit 1; }
    done
else
    profile=(--profile release)
    bin=$target_dir/release
    log "building the release binaries"
    cargo build --release --locked -p atomic -p atomic-ostree
fi
generated=$bin/deb
rm -rf "$generated"
mkdir -p "$generated/man" "$generated/completions"

log "writing man pages and completions"
"$bin/atomic" generate-man "$generated/man"
# Debian policy: man pages gzip-compressed at the highest level, without a name or time
# stamp (-n) so that two builds of the same source give the same package.
gzip -9n "$generated"/man/*.1
"$bin/atomic" completion bash >"$generated/completions/atomic.bash"
"$bin/atomic" completion zsh >"$generated/completions/_atomic"
"$bin/atomic" completion fish >"$generated/completions/atomic.fish"

log "packing"
deb=$(cargo deb -p atomic --no-build "${profile[@]}" --deb-revision "$revision" | tail -n 1)
[[ -f $deb ]] || { log "cargo deb did not name a package file (it said: $deb)"; exit 1; }
printf '%s\n' "$deb"
