#!/usr/bin/env bash
# The project's test command: prepares the machine, builds everything, runs every test.
# The exit status is cargo test's, so CI fails exactly when a test (or the build) fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

# Here the engines are part of the test: a test whose engine is unusable fails instead of
# skipping, so a broken setup cannot pass as green.
export ATOMIC_TEST_REQUIRE_ENGINES=1

# The gate: formatting, lints and documentation are checked before any test runs, so a change
# that breaks one fails CI as surely as a failing test.
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# Build first, so a compile error is reported apart from test failures.
cargo build --workspace --all-targets
# The fuzz targets (a separate crate: cargo-fuzz needs its own workspace) run for 60 s each,
# on the stable toolchain; a crash fails CI.
bash scripts/fuzz.sh 60
# The Debian package, and a second one of the same build with a higher revision to upgrade
# to: crates/atomic/tests/package.rs installs, upgrades and purges them in a systemd host.
# --test-build packs the binaries just built instead of making a release build (see there).
ATOMIC_TEST_DEB=$(bash scripts/package.sh --test-build | tail -n 1)
ATOMIC_TEST_DEB_UPGRADE=$(bash scripts/package.sh --test-build --deb-revision 2 | tail -n 1)
export ATOMIC_TEST_DEB ATOMIC_TEST_DEB_UPGRADE
cargo test --workspace
