#!/usr/bin/env bash
# Make sure a Docker Engine answers, for the local backend.
#
#   scripts/ensure-docker.sh          install Docker if missing and allowed, start it if needed
#   scripts/ensure-docker.sh --stop   stop the dockerd this script started (nothing else)
#
# DOCKER_INSTALL=auto (default) installs Debian's docker.io with apt-get only when running as
# root; yes also tries sudo; no never installs. A dockerd this script starts writes its pid to
# .docker/dockerd.pid and its log to .docker/dockerd.log, so that --stop stops only that one.
set -euo pipefail

state_dir="${DOCKER_STATE_DIR:-$(pwd)/.docker}"
pid_file="$state_dir/dockerd.pid"
log_file="$state_dir/dockerd.log"
install="${DOCKER_INSTALL:-auto}"
wait_seconds="${DOCKER_START_SECONDS:-60}"

say() { echo "ensure-docker: $*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif [ "$install" = yes ] && command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

if [ "${1:-}" = "--stop" ]; then
    if [ -f "$pid_file" ]; then
        pid="$(cat "$pid_file")"
        if kill -0 "$pid" 2>/dev/null; then
            say "stopping the dockerd it started (pid $pid)"
            kill "$pid"
            for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
        rm -f "$pid_file"
    fi
    exit 0
fi

if docker info >/dev/null 2>&1; then
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    if [ "$install" = no ]; then
        say "Docker is not installed and DOCKER_INSTALL=no; install Docker Engine, or run with --backend fake." >&2
        exit 1
    fi
    say "installing Debian's docker.io"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
        ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null; then
        say "could not install docker.io (needs root, or DOCKER_INSTALL=yes with sudo); install Docker Engine by hand." >&2
        exit 1
    fi
fi

if [ "$(id -u)" != 0 ]; then
    say "the Docker Engine is not running; start it (sudo systemctl start docker, or sudo dockerd &) and run again." >&2
    exit 1
fi

# A dockerd killed without cleanup leaves its pid file behind and refuses to start again.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
fi

mkdir -p "$state_dir"
say "starting dockerd (log: $log_file)"
nohup dockerd >"$log_file" 2>&1 &
echo $! >"$pid_file"

for _ in $(seq 1 "$wait_seconds"); do
    if docker info >/dev/null 2>&1; then
        say "Docker Engine is up"
        exit 0
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        say "dockerd exited; the end of its log:" >&2
        tail -n 20 "$log_file" >&2
        rm -f "$pid_file"
        exit 1
    fi
    sleep 1
done
say "dockerd did not answer within $wait_seconds s; see $log_file" >&2
exit 1
