#!/bin/sh
# Start the Docker engine the way the project's machines allow it, once.
#
# Idempotent: if `docker info` already answers, nothing is done. Otherwise
# docker.io is installed when dockerd is missing, and dockerd is started in the
# background with no bridge network, no iptables rules and no IP forwarding
# (containers run with --network none; all grading traffic stays on loopback
# inside the container). Then we wait for the engine to answer, up to a
# deadline, polling; we never sleep for a guessed time.
#
# Environment:
#   DOCKERD_LOG       log file of dockerd (default /var/log/dockerd-grader.log)
#   DOCKERD_DEADLINE  seconds to wait for the engine (default 60)
set -eu

LOG=${DOCKERD_LOG:-/var/log/dockerd-grader.log}
DEADLINE=${DOCKERD_DEADLINE:-60}
POLL=0.5

engine_up() {
    docker info >/dev/null 2>&1
}

if engine_up; then
    echo "start-engine: the Docker engine is already running."
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "start-engine: the Docker engine is not running and starting it needs root." >&2
    echo "start-engine: run this script as root (or start dockerd yourself)." >&2
    exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    echo "start-engine: dockerd or docker not found, installing docker.io ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y docker.io
fi

# A dockerd may already be running but not answering yet (started a moment ago
# by someone else): do not start a second one, just wait for it.
# (A stale pid file whose pid now belongs to another program does not count.)
DOCKERD_PID=
RUNNING=$(cat /var/run/docker.pid 2>/dev/null || true)
if [ -n "$RUNNING" ] && [ "$(cat "/proc/$RUNNING/comm" 2>/dev/null)" = dockerd ]; then
    echo "start-engine: dockerd (pid $RUNNING) is starting, waiting for it ..."
else
    echo "start-engine: starting dockerd (log: $LOG) ..."
    mkdir -p "$(dirname "$LOG")"
    # setsid + nohup: dockerd gets its own session and survives this script
    # and the terminal that ran it.
    setsid nohup dockerd --bridge=none --iptables=false --ip-forward=false \
        >>"$LOG" 2>&1 </dev/null &
    # In a non-interactive shell the background job is not a group leader, so
    # setsid and nohup exec in place: $! is dockerd itself.
    DOCKERD_PID=$!
fi

fail() {
    echo "start-engine: ERROR: $1" >&2
    echo "start-engine: last lines of $LOG:" >&2
    tail -n 30 "$LOG" >&2 2>/dev/null || true
    exit 1
}

start=$(date +%s)
while ! engine_up; do
    if [ -n "$DOCKERD_PID" ] && ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
        fail "dockerd exited during start-up."
    fi
    if [ $(( $(date +%s) - start )) -ge "$DEADLINE" ]; then
        fail "the Docker engine did not answer within ${DEADLINE} s."
    fi
    sleep "$POLL"
done
echo "start-engine: the Docker engine is running (after $(( $(date +%s) - start )) s)."
