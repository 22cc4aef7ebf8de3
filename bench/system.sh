#!/usr/bin/env bash
# System container benchmark (issue 5): `atomic install --system` — wall time and the disk it
# adds — for a busybox image and a Debian image, first install and a second install of the same
# image under another name. Runs inside a booted systemd (the podman image scripts/setup.sh
# builds, localhost/atomic-systemd-host), because install ends with daemon-reload, tmpfiles and
# enable, and those are part of what a user waits for.
#
# Anchors: busybox install < 0.5 s; a second install of an installed image adds < 1 MiB.
# Usage: bash bench/system.sh [RUNS]   (default 5 installs per image; the median is printed)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
# shellcheck source=scripts/env.sh
source scripts/env.sh
cargo build --release -q -p atomic
ATOMIC=${CARGO_TARGET_DIR:-$PWD/target}/release/atomic
HOST_IMAGE=localhost/atomic-systemd-host:latest
podman image exists "$HOST_IMAGE" || { echo "run scripts/setup.sh first ($HOST_IMAGE)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/atomic-bench-system.XXXXXX")
NAME=atomic-bench-system-$$
trap 'podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

# busybox: a static busybox and the links a shell service needs, one layer (like docker.io/busybox).
mkdir -p "$WORK/bb/bin" "$WORK/bb/etc"
cp /bin/busybox "$WORK/bb/bin/busybox"
for app in sh sleep echo cat ls; do ln -s busybox "$WORK/bb/bin/$app"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$WORK/bb/etc/passwd"
tar -C "$WORK/bb" -c . | podman import -q \
    --change 'CMD ["/bin/sh", "-c", "trap \"exit 0\" TERM; echo started; sleep 1000 & wait"]' \
    - localhost/atomic-bench-busybox:latest >/dev/null
skopeo copy -q containers-storage:localhost/atomic-bench-busybox:latest "oci:$WORK/oci:busybox"
# Debian: the systemd host image itself (a debootstrapped Debian 12 with systemd).
skopeo copy -q "containers-storage:$HOST_IMAGE" "oci:$WORK/oci:debian"
podman rmi -f localhost/atomic-bench-busybox:latest >/dev/null

podman run -d --privileged --systemd=always --name "$NAME" \
    -v "$ATOMIC:/usr/local/bin/atomic:ro" -v "$(command -v runc):/usr/sbin/runc:ro" \
    -v "$WORK/oci:/data/oci:ro" "$HOST_IMAGE" /sbin/init >/dev/null
for _ in $(seq 50); do
    state=$(podman exec "$NAME" systemctl is-system-running 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && break
    sleep 0.2
done

# Everything below runs in the booted host.
podman exec -i "$NAME" bash -s "$RUNS" <<'EOF'
set -euo pipefail
RUNS=$1
STORE=/var/lib/containers/atomic
kib() { du -sk "$STORE" | cut -f1; }
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

for image in busybox debian; do
    atomic pull -q "oci:/data/oci:$image" >/dev/null
    ref=localhost/oci:$image
    image_kib=$(kib)
    times=()
    sizes=()
    for i in $(seq "$RUNS"); do
        before=$(kib)
        start=$(ms_now)
        atomic install -q --system --name "$image-$i" "$ref" >/dev/null
        times+=($(( $(ms_now) - start )))
        sizes+=($(( $(kib) - before )))
    done
    first=${sizes[0]}
    later=$(printf '%s\n' "${sizes[@]:1}" | median)
    printf '%-8s store with the image %8d KiB | install median %5d ms (runs: %s)\n' \
        "$image" "$image_kib" "$(printf '%s\n' "${times[@]}" | median)" "${times[*]}"
    printf '%-8s disk added: first install %d KiB, each further install (median) %s KiB\n' \
        "$image" "$first" "$later"
    for i in $(seq "$RUNS"); do atomic uninstall -q "$image-$i" >/dev/null; done
done
echo "anchors: busybox install < 500 ms; a second install adds < 1024 KiB"
EOF
