"""Hostile: tries to kill the grader. Signals its parent (the grader's session), pid 1 and
every process it can see, then kill(-1, SIGKILL), which as root on a host would kill every
process of the machine. Graded in the container only, where it runs as a uid from 2000 to 2255."""
import os
import signal
import sys
import time

if not (2000 <= os.getuid() < 2256 and os.path.exists("/.dockerenv") and os.path.isdir("/opt/grader")):
    sys.exit("kill_parent: refusing to run outside the grading container")


def owner(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
    except (OSError, StopIteration):
        return None


def attempt(pid, signum):
    try:
        os.kill(pid, signum)
        return "delivered"
    except OSError as error:
        return type(error).__name__


parent = os.getppid()
results = {f"parent {parent}": [attempt(parent, s) for s in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL)],
           "pid 1": [attempt(1, s) for s in (signal.SIGTERM, signal.SIGKILL)]}
try:
    os.killpg(os.getpgid(parent), signal.SIGKILL)
    results["parent's group"] = "delivered"
except OSError as error:
    results["parent's group"] = type(error).__name__
others = [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]
hit = []
for pid in others:
    uid = owner(pid)
    if attempt(pid, signal.SIGKILL) == "delivered" and uid not in (None, os.getuid()):
        hit.append(pid)
print(f"kill_parent: parent and pid 1: {results}", flush=True)
if any("delivered" in str(value) for value in results.values()) or hit:
    print(f"KILLED-A-GRADER-PROCESS {results} {hit}", flush=True)
helpers = []
for _ in range(3):  # helpers of its own, for kill(-1) to take down
    pid = os.fork()
    if pid == 0:
        while True:
            time.sleep(1)
    helpers.append(pid)
print("kill_parent: kill(-1, SIGKILL) now", flush=True)
os.kill(-1, signal.SIGKILL)  # everything it may signal but itself: on a host, as root, all
killed = 0
for pid in helpers:
    _pid, status = os.waitpid(pid, 0)
    killed += os.WIFSIGNALED(status)
print(f"kill_parent: kill(-1) took down {killed} of its {len(helpers)} helpers", flush=True)
