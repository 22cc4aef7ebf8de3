# shellcheck shell=bash
# Sourced by the other scripts (and by hand: `source scripts/env.sh`) to point the container
# tools at this repository's settings instead of editing /etc.
# No `set -euo pipefail` here: it would change the options of an interactive shell that
# sources this file.

ATOMIC_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ATOMIC_REPO_ROOT

# Podman: runc instead of crun, no default ulimits (see containers.conf for why).
export CONTAINERS_CONF="$ATOMIC_REPO_ROOT/scripts/containers.conf"
# Podman, skopeo and atomic: the loopback registry is insecure, no search registries.
export CONTAINERS_REGISTRIES_CONF="$ATOMIC_REPO_ROOT/scripts/registries.conf"

# rustup's cargo, when it is not on PATH yet (a fresh CI shell).
case ":$PATH:" in
    *":$HOME/.cargo/bin:"*) ;;
    *) export PATH="$HOME/.cargo/bin:$PATH" ;;
esac
