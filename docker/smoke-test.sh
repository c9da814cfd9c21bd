#!/bin/sh
# Run the grading image hardened the way the docker runner runs it, and probe
# inside it what the grader relies on (docker/smoke_probe.py): loopback TCP,
# /proc/net/tcp, dropping to the student's uid, pexpect ptys, namespaces.
#
# Usage: docker/smoke-test.sh [extra `docker run` options]
#   e.g. docker/smoke-test.sh --security-opt seccomp=unconfined
# Environment: IMAGE (default tcp-grader:latest)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=${IMAGE:-tcp-grader:latest}

# The probe comes in on stdin: nothing is mounted into the container.
exec docker run --rm -i --network none --read-only \
    --tmpfs /tmp:rw,size=64m,mode=1777 \
    --memory 512m --memory-swap 512m --pids-limit 128 --cpus 1 \
    --cap-drop ALL --cap-add SETUID --cap-add SETGID --cap-add KILL \
    --cap-add SYS_PTRACE --cap-add DAC_OVERRIDE \
    --security-opt no-new-privileges --label tcp-grader=1 \
    "$@" "$IMAGE" python3 -I - < "$HERE/smoke_probe.py"
