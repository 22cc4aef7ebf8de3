#!/usr/bin/env bash
# The demo: builds a small image whose labels say how to run it, loads it into Podman (and
# Docker when a daemon answers), and lets atomic read and act on those labels.
set -euo pipefail

# The demo image's labels. atomic substitutes NAME and IMAGE and runs the result without a
# shell; the quoted part is the command line of the shell inside the container.
IMAGE=atomic-demo
TOOLS=atomic-demo-tools
RUN_LABEL="docker run --rm --name NAME IMAGE /bin/sh -c 'echo hello from \$(hostname); id; ps'"
HELP_LABEL="docker run --rm IMAGE /bin/cat /README"
README="atomic-demo: a busybox image whose labels tell atomic how to run it.
Try: atomic run --display atomic-demo"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

cargo build --release -p atomic -p atomic-testsupport
ATOMIC=target/release/atomic

# Prints a command (quoting the arguments that need it), then runs it, so the output reads
# like a terminal session.
step() {
    local shown=() arg
    for arg in "$@"; do
        if [[ $arg =~ ^[[:alnum:]_./:=@%+,-]+$ ]]; then
            shown+=("$arg")
        else
            shown+=("${arg@Q}")
        fi
    done
    printf '\n$ %s\n' "${shown[*]}"
    "$@"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$README" >"$tmp/README"

step target/release/atomic-testimage --name "$IMAGE" \
    --label "RUN=$RUN_LABEL" \
    --label "HELP=$HELP_LABEL" \
    --label "Name=$IMAGE" --label "Version=1.0" --label "Release=1" \
    --label "summary=A demo image for atomic" \
    --cmd '["/bin/sh"]' \
    --file "/README=$tmp/README" \
    --docker-archive "$tmp/$IMAGE.tar"

# A second image without a RUN label: `atomic run --spc` gives it the super-privileged
# defaults (a RUN label, when there is one, decides for itself how its image runs).
step target/release/atomic-testimage --name "$TOOLS" \
    --label "Name=$TOOLS" --cmd '["/bin/sh"]' \
    --docker-archive "$tmp/$TOOLS.tar"

step podman load -i "$tmp/$IMAGE.tar"
step podman load -i "$tmp/$TOOLS.tar"
docker_ok=false
if timeout 10 docker version >/dev/null 2>&1; then
    docker_ok=true
    step docker load -i "$tmp/$IMAGE.tar"
    step docker load -i "$tmp/$TOOLS.tar"
fi

step "$ATOMIC" info --storage podman "$IMAGE"
step "$ATOMIC" help --storage podman "$IMAGE"
step "$ATOMIC" run --display --storage podman "$IMAGE"
step "$ATOMIC" run --storage podman "$IMAGE"
# A super-privileged container: the host's / is at /host and its processes are visible.
# --replace: a container of that name left by an earlier demo is recreated, not restarted.
step "$ATOMIC" run --replace --spc --storage podman "$TOOLS" sh -c 'ls /host; ps -o pid,comm | head -5'
if $docker_ok; then
    step "$ATOMIC" run --storage docker "$IMAGE"
    # Docker's --privileged needs capabilities some machines lack (see ENVIRONMENT.md), so
    # its SPC is shown, not run.
    step "$ATOMIC" run --display --spc --storage docker "$TOOLS" sh
else
    echo "(docker does not answer here: skipping the docker part of the demo)"
fi

# atomic's own image store: no daemon involved. A store of the demo's own, in the temp dir.
export ATOMIC_STORE_ROOT=$tmp/store
step "$ATOMIC" pull "docker-archive:$tmp/$IMAGE.tar"
step "$ATOMIC" pull "docker-archive:$tmp/$IMAGE.tar"
step "$ATOMIC" images list --storage native
step "$ATOMIC" info --storage native "$IMAGE"
mkdir "$tmp/mnt"
step "$ATOMIC" mount --storage native "$IMAGE" "$tmp/mnt"
step cat "$tmp/mnt/README"
step "$ATOMIC" unmount "$tmp/mnt"
step "$ATOMIC" images verify --storage native "$IMAGE"
# Containers with no daemon: atomic reads the label's docker command line itself and runs the
# container with runc, over the store's layers.
step "$ATOMIC" run --display --storage native "$IMAGE"
step "$ATOMIC" run --storage native "$IMAGE"
step "$ATOMIC" pull "docker-archive:$tmp/$TOOLS.tar"
step "$ATOMIC" run --spc --storage native "$TOOLS" sh -c 'ls /host; ps -o pid,comm | head -5'
step "$ATOMIC" containers list -a --storage native
step "$ATOMIC" containers delete -y --storage native "$TOOLS-spc"

# System containers: a service shipped as an image and run by systemd through runc. systemd is
# not PID 1 on this machine, so the demo boots one in a container (the image setup.sh builds)
# with this atomic and runc inside, and runs atomic there.
SERVICE=atomic-demo-service
step target/release/atomic-testimage --name "$SERVICE" \
    --label "atomic.type=system" \
    --cmd '["/bin/sh", "-c", "trap \"exit 0\" TERM; echo service started; while true; do sleep 1; done"]' \
    --oci "$tmp/layout"
chmod -R a+rX "$tmp"
HOST=atomic-demo-systemd-$$
trap 'podman rm -f -t 0 "$HOST" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
podman run -d --privileged --systemd=always --network=none --name "$HOST" \
    -v "$PWD/$ATOMIC:/usr/local/bin/atomic:ro" -v "$(command -v runc):/usr/sbin/runc:ro" \
    -v "$tmp/layout:/data/layout:ro" localhost/atomic-systemd-host:latest /sbin/init >/dev/null
for _ in $(seq 100); do
    state=$(podman exec "$HOST" systemctl is-system-running 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && break
    sleep 0.2
done
in_host() { step podman exec "$HOST" "$@"; }
in_host atomic pull oci:/data/layout:latest
# atomic.type=system: installed as a system container without --system.
in_host atomic install --name demo localhost/layout:latest
in_host cat /etc/systemd/system/demo.service
in_host atomic run demo
sleep 1
in_host journalctl -u demo --no-pager -o cat
in_host atomic containers list
in_host atomic stop demo
in_host atomic uninstall demo
