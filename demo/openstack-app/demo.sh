#!/usr/bin/env bash
# The meta-image demo: builds, offline, an "openstack" application image whose Nulecule
# describes three busybox services (a database, a message queue and an API that talks to
# both over TCP), and starts all of them with one `atomic run openstack`.
#
#   bash demo/openstack-app/demo.sh [native|podman|docker]     (default: native)
#
# native runs everything in a store of its own under a temporary directory (removed at the
# end); podman and docker load the four images into that engine. Set ATOMIC and
# ATOMIC_TESTIMAGE to use binaries already built (the default builds release ones).
set -euo pipefail
ENGINE=${1:-native}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."

if [ -z "${ATOMIC:-}" ]; then
    [ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null
    cargo build --release -q -p atomic -p atomic-testsupport
    ATOMIC=$PWD/target/release/atomic
    ATOMIC_TESTIMAGE=$PWD/target/release/atomic-testimage
fi
# shellcheck source=scripts/env.sh
source scripts/env.sh

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/atomic-openstack-demo.XXXXXX")
cleanup() {
    if [ "$ENGINE" = native ]; then
        "$ATOMIC" containers delete -a -f -y --storage native >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
export ATOMIC_APP_ROOT=$tmp/apps
[ "$ENGINE" = native ] && export ATOMIC_STORE_ROOT=$tmp/store

step() {
    printf '\n$'; printf ' %q' "$@"; printf '\n'
    "$@"
}

# Puts an image built by atomic-testimage into the engine.
image() {
    local name=$1
    shift
    case $ENGINE in
    native)
        "$ATOMIC_TESTIMAGE" --name "$name" "$@" --oci "$tmp/oci/$name" >/dev/null
        "$ATOMIC" pull -q "oci:$tmp/oci/$name:latest" >/dev/null
        ;;
    podman) "$ATOMIC_TESTIMAGE" --name "$name" "$@" --load-podman >/dev/null ;;
    docker) "$ATOMIC_TESTIMAGE" --name "$name" "$@" --load-docker >/dev/null ;;
    *) echo "usage: $0 [native|podman|docker]" >&2; exit 2 ;;
    esac
    echo "built $name"
}

echo 'database: ready, 3 tables' >"$tmp/db.html"
echo 'queue: ready, 0 messages' >"$tmp/queue.html"
image atomic-demo-openstack-db --file "/srv/index.html=$tmp/db.html"
image atomic-demo-openstack-queue --file "/srv/index.html=$tmp/queue.html"
image atomic-demo-openstack-api --file "/api.sh=$here/api.sh"
# The meta image: the Nulecule and its artifacts under /application-entity, as Atomic App's
# images carried them, and the label that says what it is.
files=()
while IFS= read -r -d '' f; do
    files+=(--file "/application-entity/${f#"$here/app/"}=$f")
done < <(find "$here/app" -type f -print0)
image openstack --label io.projectatomic.nulecule.specversion=0.0.2 \
    --label io.projectatomic.nulecule.providers=docker "${files[@]}"

step "$ATOMIC" info --storage "$ENGINE" openstack
# One command pulls what is missing and starts the three services in graph order.
step "$ATOMIC" run --storage "$ENGINE" --set database:db_password='s3cret pass' openstack

printf '\n$ busybox wget -qO- http://127.0.0.1:18080/   # the API, once it has asked the others\n'
for _ in $(seq 1 50); do
    answer=$(busybox wget -qO- http://127.0.0.1:18080/ 2>/dev/null || true)
    case $answer in *queue:*) break ;; esac
    sleep 0.2
done
printf '%s\n' "$answer"
step "$ATOMIC" app list
step "$ATOMIC" containers list --storage "$ENGINE"
step "$ATOMIC" stop openstack
step "$ATOMIC" run --storage "$ENGINE" -q --set database:db_password='s3cret pass' openstack
step "$ATOMIC" uninstall --images openstack
[ "$ENGINE" = native ] || "$ATOMIC" images delete -y --storage "$ENGINE" openstack >/dev/null
case $answer in *queue:*) echo; echo "demo: OK" ;; *) echo "demo: the API did not answer" >&2; exit 1 ;; esac
