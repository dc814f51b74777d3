#!/usr/bin/env bash
# Build the container image with podman and check that a container of it answers:
# /healthz, one /v1/density value, the image's HEALTHCHECK, a non-root user.
# Called by `make container-check`; prints one last line "container-check: PASS|FAIL".
#
# Needs root (apt-get, debootstrap, rootful podman). Without a reachable container registry
# the base image is built locally: Debian bookworm (debootstrap, minbase) with its
# python3 (3.11), imported into podman once and reused by later runs. The image build
# itself runs with --network=none: pip installs from wheels downloaded here beforehand.
#
# Environment:
#   BASE_IMAGE    use this base image, as it is (default: python:3.11-slim if present or
#                 pullable, else the local Debian one)
#   IMAGE         tag of the image built (default localhost/rmtservice:check)
#   PY            Python with pip, to download the wheels (default .venv/bin/python)
#   WAIT_SECONDS  how long the container may take to answer /healthz (default 90)
#   DEBIAN_MIRROR mirror for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail
cd "$(dirname "$0")/.."

OFFICIAL_BASE=docker.io/library/python:3.11-slim
# Bump the suffix when the recipe in build_local_base changes: the old image is then unused.
LOCAL_BASE=localhost/rmtservice-base:python3.11-bookworm-1
IMAGE=${IMAGE:-localhost/rmtservice:check}
BASE_IMAGE=${BASE_IMAGE:-}
PY=${PY:-.venv/bin/python}
WAIT_SECONDS=${WAIT_SECONDS:-90}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WHEELS=build/wheels # where the Dockerfile looks for them (build arg OFFLINE)
NAME=rmtservice-check-$$
PODMAN=(podman) # plus --runtime runc once installed: crun fails on some hosts

step="start"
container=""
rootfs=""
t0=$SECONDS

log() { printf 'container-check: %s\n' "$*" >&2; }
# Drop known noise from stderr: podman without systemd cannot schedule the healthcheck
# timer (`podman healthcheck run` below runs it by hand), and the host's pip
# configuration may name local indexes that do not exist.
quiet() {
    "$@" 2> >(grep -v -e 'unable to get systemd connection' \
        -e 'is ignored: it is neither a file nor a directory' >&2)
}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$container" ]; then
        if [ "$rc" -ne 0 ]; then
            log "last lines of the container's log:"
            "${PODMAN[@]}" logs --tail 40 "$container" >&2 2>&1 || true
        fi
        "${PODMAN[@]}" rm --force --time 5 "$container" >/dev/null 2>&1 || true
    fi
    [ -z "$rootfs" ] || as_root rm -rf "$rootfs"
    if [ "$rc" -eq 0 ]; then
        echo "container-check: PASS ($IMAGE on ${BASE_IMAGE:-?}, $((SECONDS - t0))s)"
    else
        echo "container-check: FAIL at step '$step' (exit $rc, $((SECONDS - t0))s)"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

begin() {
    step=$1
    log "$step ($((SECONDS - t0))s)"
}

install_missing() {
    local missing=()
    for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing ${missing[*]} with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build_local_base() {
    install_missing debootstrap
    rootfs=$(mktemp -d /var/tmp/rmtservice-rootfs.XXXXXX)
    log "debootstrap bookworm from $DEBIAN_MIRROR (a few minutes)"
    as_root timeout 1200 debootstrap --variant=minbase \
        --include=python3,python3-venv,python-is-python3,ca-certificates \
        bookworm "$rootfs" "$DEBIAN_MIRROR" >"$rootfs.log" 2>&1 || {
        tail -n 20 "$rootfs.log" >&2
        rm -f "$rootfs.log"
        return 1
    }
    rm -f "$rootfs.log"
    # What the official images drop too: downloaded packages and the package lists.
    as_root find "$rootfs/var/cache/apt/archives" "$rootfs/var/lib/apt/lists" \
        -type f -delete
    as_root tar --numeric-owner -C "$rootfs" -c . |
        "${PODMAN[@]}" import --quiet \
            --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
            --message "Debian bookworm minbase + python3 (debootstrap)" - "$LOCAL_BASE" >/dev/null
    as_root rm -rf "$rootfs"
    rootfs=""
}

choose_base() {
    if [ -n "$BASE_IMAGE" ]; then
        return
    elif "${PODMAN[@]}" image exists "$OFFICIAL_BASE"; then
        BASE_IMAGE=$OFFICIAL_BASE
    elif "${PODMAN[@]}" image exists "$LOCAL_BASE"; then
        BASE_IMAGE=$LOCAL_BASE
    elif timeout 300 "${PODMAN[@]}" pull --quiet "$OFFICIAL_BASE" >/dev/null 2>&1; then
        BASE_IMAGE=$OFFICIAL_BASE
    else
        log "cannot pull $OFFICIAL_BASE: building $LOCAL_BASE"
        build_local_base
        BASE_IMAGE=$LOCAL_BASE
    fi
}

# Every wheel the image needs (requirements/service.lock, with its hashes, and the build
# backend), for CPython 3.11 on x86_64 glibc; downloaded again only when the lock or
# pyproject.toml changes.
download_wheels() {
    local key platforms=()
    key=$(cat requirements/service.lock pyproject.toml | sha256sum | cut -d' ' -f1)
    [ "$(cat "$WHEELS/.lock.sha256" 2>/dev/null)" = "$key" ] && return
    [ -x "$PY" ] || PY=python3
    rm -rf "$WHEELS"
    mkdir -p "$WHEELS"
    "$PY" - >"$WHEELS/build-requirements.txt" <<'EOF'
import tomllib

with open("pyproject.toml", "rb") as f:
    meta = tomllib.load(f)
print(*meta["build-system"]["requires"], sep="\n")
EOF
    for glibc in $(seq 17 36); do platforms+=(--platform "manylinux_2_${glibc}_x86_64"); done
    # two calls: pip wants a hash on every line of a file that has any, and the backend
    # (a range) has none
    for requirements in requirements/service.lock "$WHEELS/build-requirements.txt"; do
        quiet "$PY" -m pip download --quiet --disable-pip-version-check --dest "$WHEELS" \
            --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
            --platform manylinux2014_x86_64 "${platforms[@]}" -r "$requirements"
    done
    echo "$key" >"$WHEELS/.lock.sha256"
}

http_get_ok() {
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)' \
        "$1" >/dev/null 2>&1
}

check_density() {
    python3 - "$1" <<'EOF'
import json, math, sys, urllib.request

body = {"measure": {"kind": "point", "at": 0}, "noise": {"sigma2": 1}, "x": [0]}
request = urllib.request.Request(
    sys.argv[1] + "/v1/density", data=json.dumps(body).encode(),
    headers={"Content-Type": "application/json"},
)
with urllib.request.urlopen(request, timeout=30) as response:
    density = json.load(response)["density"][0]
# Semicircle of radius 2 around the point mass: density 1/pi at its centre.
if not math.isclose(density, 1 / math.pi, rel_tol=1e-6):
    sys.exit(f"/v1/density at 0: {density!r}, expected 1/pi = {1 / math.pi!r}")
print(f"container-check: /v1/density at 0 = {density:.10f} (1/pi)", file=sys.stderr)
EOF
}

# A small sweep on the image's own local Dask cluster (shared by its gunicorn workers
# through RMT_DASK_LOCAL_PORT): started, polled until done, whichever worker answers.
check_sweep() {
    python3 - "$1" <<'EOF'
import json, sys, time, urllib.request

def call(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        sys.argv[1] + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)

body = {"measure": {"kind": "uniform", "low": -1, "high": 1}, "noise": {"sigma2": 1},
        "sizes": [40, 80], "trials": 2, "spikes": [3], "seed": 1}
sweep = call("/v1/sweeps", body)
deadline = time.monotonic() + 120
while sweep["state"] not in ("done", "failed", "cancelled"):
    if time.monotonic() > deadline:
        sys.exit(f"the sweep is still {sweep['state']} after 120 s")
    time.sleep(0.5)
    sweep = call(f"/v1/sweeps/{sweep['id']}")
if sweep["state"] != "done" or sweep["progress"]["done"] != 4:
    sys.exit(f"sweep: {sweep['state']} {sweep['progress']} {sweep.get('error')}")
for _ in range(6):  # every gunicorn worker knows it
    assert call(f"/v1/sweeps/{sweep['id']}")["state"] == "done"
print(f"container-check: sweep done, {sweep['progress']['done']} tasks", file=sys.stderr)
EOF
}

begin "podman and runc"
install_missing podman runc
PODMAN=(podman)
command -v runc >/dev/null 2>&1 && PODMAN+=(--runtime runc)

begin "base image"
choose_base
log "base image $BASE_IMAGE"

begin "wheels"
download_wheels

begin "build image"
# --format docker: the OCI format has no HEALTHCHECK.
timeout 1200 "${PODMAN[@]}" build --network=none --format docker \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg OFFLINE=1 \
    --tag "$IMAGE" . >build/container-check-build.log 2>&1 || {
    tail -n 30 build/container-check-build.log >&2
    exit 1
}
# No untagged image left behind: older builds of this tag (label of the final stage),
# and the build stage's image with the layer images under it (its own label; some 700 MB:
# the dependencies' layer is built again next time, from the wheels downloaded here).
# A layer image becomes dangling only once the one above it is gone: prune until none is.
for title in rmtservice rmtservice-build; do
    for _ in $(seq 20); do
        removed=$("${PODMAN[@]}" image prune --force \
            --filter "label=org.opencontainers.image.title=$title" 2>/dev/null) || break
        [ -n "$removed" ] || break
    done
done

begin "start container"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
container=$NAME
# Rootful podman asks for 1048576 open files and processes unless told otherwise; a host
# that withholds CAP_SYS_RESOURCE (a sandbox VM) refuses that. The check needs few.
quiet "${PODMAN[@]}" run --detach --name "$container" --publish "127.0.0.1:$port:8000" \
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$IMAGE" >/dev/null

begin "wait for $url/healthz"
deadline=$((SECONDS + WAIT_SECONDS))
until http_get_ok "$url/healthz"; do
    running=$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$container")
    [ "$running" = true ] || { log "the container exited"; exit 1; }
    [ "$SECONDS" -lt "$deadline" ] || { log "no answer within ${WAIT_SECONDS}s"; exit 1; }
    sleep 1
done

begin "check /v1/density"
check_density "$url"

begin "check /v1/sweeps"
check_sweep "$url"

begin "check HEALTHCHECK and user"
quiet "${PODMAN[@]}" healthcheck run "$container" >/dev/null
uid=$("${PODMAN[@]}" exec "$container" id -u)
[ "$uid" != 0 ] || { log "the service runs as root"; exit 1; }

begin "stop container"
quiet "${PODMAN[@]}" stop --time 30 "$container" >/dev/null
quiet "${PODMAN[@]}" rm "$container" >/dev/null
container=""
