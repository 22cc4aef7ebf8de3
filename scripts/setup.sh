#!/usr/bin/env bash
# Prepares a Debian 12 machine for atomic's tests and demo: installs the container tools and
# starts what must run (dockerd, a registry on 127.0.0.1:5000).
#
# Idempotent: on a machine that is already set up it installs nothing, starts nothing and
# changes nothing; run it as often as you like. Run it as root: the tests use rootful Podman
# and Docker, and the daemons it starts write their logs under /var/log.
# It exports nothing into the caller's shell; scripts/env.sh does that.
set -euo pipefail

# Packages the tests and the demo use. groff-base renders man pages (`atomic help`); mandoc is
# added below when the archive has it.
PACKAGES=(
    podman runc docker.io containerd docker-registry busybox-static skopeo umoci
    groff-base hyperfine time
    # trust tests: gpg keys and signatures, openssl (cosign keys), curl (pushing attachments),
    # python3 (a loopback http lookaside)
    gnupg openssl curl python3
    # build dependencies of the Rust workspace (cc for build scripts, pkg-config for -sys crates)
    gcc g++ libc6-dev pkg-config
    # `atomic host` links libostree; the host tests build sysroots with the ostree CLI
    ostree libostree-dev
    # builds the Debian root of the systemd host image (build_systemd_host_image)
    debootstrap
    # `atomic diff --rpms` reads rpm databases with it; its tests build one with rpmbuild
    rpm
    # `podman kube play` needs catatonit for its pause image (atomic kube play and its tests);
    # python3-venv holds kubernetes-validate, which checks generated Kubernetes objects
    catatonit python3-venv
    # the Debian package (scripts/package.sh: cargo-deb runs dpkg-shlibdeps) and its check
    dpkg-dev lintian
    # htpasswd (bcrypt) for the password-protected registry of the credential tests; openssl
    # makes their certificates
    apache2-utils openssl
    # the native engine's networks (bridge, NAT, published ports, container DNS); the test of
    # a rootless run uses slirp4netns when present
    netavark aardvark-dns iptables
)

# Where the registry started here keeps its config and data (survives reboots, unlike /tmp).
REGISTRY_DIR=/var/lib/atomic-test
REGISTRY_ADDR=127.0.0.1:5000
REGISTRY_LOG=/var/log/atomic-test-registry.log
DOCKERD_LOG=/var/log/dockerd.log

log() { printf 'setup: %s\n' "$*"; }

if [[ $EUID -ne 0 ]]; then
    log "run me as root (e.g. sudo bash scripts/setup.sh)"
    exit 1
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# True when the archive offers package $1 (the package lists must be present).
available() {
    local candidate
    candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [[ -n $candidate && $candidate != "(none)" ]]
}

install_packages() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        installed "$pkg" || missing+=("$pkg")
    done
    # mandoc is optional (a second man page renderer): wanted when the archive has it. A fresh
    # machine has no package lists yet, so this is asked again after apt-get update.
    local want_mandoc=false
    if ! installed mandoc && available mandoc; then
        want_mandoc=true
    fi
    if [[ ${#missing[@]} -eq 0 ]] && ! $want_mandoc; then
        log "packages: all present"
        return
    fi
    # Update only when something must be installed, so a set-up machine needs no network.
    apt-get update -q
    if ! installed mandoc && available mandoc; then
        missing+=(mandoc)
    fi
    log "installing: ${missing[*]}"
    # noninteractive: CI has no stdin; --no-install-recommends keeps the install small.
    # NEEDRESTART_MODE=l: Debian's needrestart hook only lists, never restarts services.
    DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

check_cargo() {
    if ! command -v cargo >/dev/null && [[ -f $HOME/.cargo/env ]]; then
        # shellcheck source=/dev/null
        source "$HOME/.cargo/env"
    fi
    if command -v cargo >/dev/null; then
        log "cargo: $(cargo --version)"
    else
        # Debian's cargo is too old for edition 2024; a rustup toolchain is needed.
        log "cargo not found: install a Rust toolchain (rustup, Rust >= 1.89) first"
        exit 1
    fi
}

docker_answers() {
    timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

start_dockerd() {
    if docker_answers; then
        log "dockerd: already answering"
        return
    fi
    # dockerd starts its own containerd (under /var/run/docker/containerd) when none runs,
    # so containerd needs no separate start. No iptables and no bridge: the machine may not
    # allow changing the host's network, and tests need no container networking beyond that.
    log "dockerd: starting (log in $DOCKERD_LOG)"
    # setsid + nohup: dockerd must outlive this script and the CI step's process group.
    setsid nohup dockerd --iptables=false --ip6tables=false --bridge=none \
        >"$DOCKERD_LOG" 2>&1 </dev/null &
    local i
    for ((i = 0; i < 60; i++)); do
        if docker_answers; then
            log "dockerd: answering after ${i}s"
            return
        fi
        sleep 1
    done
    log "dockerd did not answer within 60 s; last lines of $DOCKERD_LOG:"
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    exit 1
}

# A plain HTTP GET of /v2/ through bash's /dev/tcp, so this needs no curl.
registry_answers() {
    timeout 5 bash -c '
        exec 3<>/dev/tcp/127.0.0.1/5000 || exit 1
        printf "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:5000\r\n\r\n" >&3
        head -n 1 <&3' 2>/dev/null | grep -qE '^HTTP/1\.[01] (200|401)'
}

start_registry() {
    if registry_answers; then
        log "registry: already answering on $REGISTRY_ADDR"
        return
    fi
    log "registry: starting on $REGISTRY_ADDR (log in $REGISTRY_LOG)"
    mkdir -p "$REGISTRY_DIR/registry-data"
    # Loopback only: tests must not serve the network.
    cat >"$REGISTRY_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/registry-data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
    setsid nohup docker-registry serve "$REGISTRY_DIR/registry.yml" \
        >"$REGISTRY_LOG" 2>&1 </dev/null &
    local i
    for ((i = 0; i < 30; i++)); do
        if registry_answers; then
            log "registry: answering"
            return
        fi
        sleep 1
    done
    log "the registry did not answer within 30 s; last lines of $REGISTRY_LOG:"
    tail -n 20 "$REGISTRY_LOG" >&2 || true
    exit 1
}

check_busybox() {
    # Test images are built from this static binary (crates/atomic-testsupport).
    [[ -x /bin/busybox ]] || { log "/bin/busybox is missing although busybox-static is installed"; exit 1; }
}

# The image the end-to-end tests of system containers boot systemd from
# (crates/atomic-testsupport/src/systemd_host.rs): systemd is not PID 1 on the test machines,
# so the tests run a real one as PID 1 of a privileged Podman container. A Debian root rather
# than a pulled image because the machines reach only Debian's archive, not a registry.
SYSTEMD_HOST_IMAGE=localhost/atomic-systemd-host:latest
# Raise this when the recipe below changes: an image built by an older recipe is rebuilt.
SYSTEMD_HOST_RECIPE=2
SYSTEMD_HOST_MIRROR=http://deb.debian.org/debian

SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

podman_here() {
    # The repo's Podman settings (scripts/env.sh), which the tests use too.
    CONTAINERS_CONF="$SCRIPTS_DIR/containers.conf" podman "$@"
}

build_systemd_host_image() {
    if podman_here image exists "$SYSTEMD_HOST_IMAGE" &&
        [[ $(podman_here image inspect --format \
            '{{index .Labels "org.atomic.systemd-host.recipe"}}' "$SYSTEMD_HOST_IMAGE") \
            == "$SYSTEMD_HOST_RECIPE" ]]; then
        log "systemd host image: present ($SYSTEMD_HOST_IMAGE)"
        return
    fi
    log "systemd host image: building $SYSTEMD_HOST_IMAGE with debootstrap (about a minute)"
    local root started=$SECONDS
    # /var/tmp, not /tmp: the root is ~240 MB before trimming and /tmp may be a small tmpfs.
    root=$(mktemp -d /var/tmp/atomic-systemd-host.XXXXXX)
    # shellcheck disable=SC2064 # expand $root now: it is local to this function
    trap "rm -rf '$root'" EXIT
    # minbase: only Essential packages and apt; systemd-sysv gives /sbin/init, dbus lets
    # systemctl talk to PID 1 and runc --systemd-cgroup create scopes; libpam-systemd lets a
    # lingering user's manager (systemctl --user, for `install --user`) start.
    if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libpam-systemd \
        bookworm "$root" "$SYSTEMD_HOST_MIRROR" >/var/log/atomic-systemd-host-debootstrap.log 2>&1; then
        log "debootstrap failed; last lines of /var/log/atomic-systemd-host-debootstrap.log:"
        tail -n 20 /var/log/atomic-systemd-host-debootstrap.log >&2 || true
        exit 1
    fi
    # What the tests never read: the downloaded .debs, package lists, docs and translations
    # (~140 MB of ~240 MB), so the import and every test container's storage stay small.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale
    tar -C "$root" -c . | podman_here import \
        --change 'CMD ["/sbin/init"]' \
        --change "LABEL org.atomic.systemd-host.recipe=$SYSTEMD_HOST_RECIPE" \
        - "$SYSTEMD_HOST_IMAGE" >/dev/null
    rm -rf "$root"
    trap - EXIT
    log "systemd host image: built in $((SECONDS - started))s"
}

# kubernetes-validate (PyPI) checks the objects `atomic kube generate` writes against the
# official schemas it bundles, offline. In a venv of its own: Debian's Python refuses pip
# installs into the system (PEP 668). Pinned, so a set-up machine needs no network.
KUBE_VALIDATE_VENV=$REGISTRY_DIR/kube-venv
KUBE_VALIDATE_VERSION=1.37.0

install_kubernetes_validate() {
    if [[ $("$KUBE_VALIDATE_VENV/bin/kubernetes-validate" --version 2>/dev/null) == "$KUBE_VALIDATE_VERSION" ]]; then
        log "kubernetes-validate: present ($KUBE_VALIDATE_VENV)"
        return
    fi
    log "kubernetes-validate: installing $KUBE_VALIDATE_VERSION into $KUBE_VALIDATE_VENV"
    rm -rf "$KUBE_VALIDATE_VENV"
    /usr/bin/python3 -m venv "$KUBE_VALIDATE_VENV"
    "$KUBE_VALIDATE_VENV/bin/pip" install -q --disable-pip-version-check \
        "kubernetes-validate==$KUBE_VALIDATE_VERSION"
}

install_packages
install_kubernetes_validate
check_busybox
check_cargo
start_dockerd
start_registry
build_systemd_host_image
log "done"
