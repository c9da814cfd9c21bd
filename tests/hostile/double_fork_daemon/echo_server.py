"""Hostile: starts a daemon the classic way (fork, setsid, fork), and the daemon re-executes
itself with an empty environment, so that it carries no variable the grader could know it
by, ignores the polite signals and lives forever. Each run first looks for a daemon left by
an earlier run (an earlier check of the same session: graded with one check at a time):
finding one means the grader let it survive its check.

Safe on the local runner too (it signals nothing and holds one socket): the daemons of one
session are told apart from any other session's by the session's pid (the grandparent of
each run: the session forks one process per check)."""
import os
import signal
import sys
import time


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])

DAEMON = """
import signal, socket, time
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(number, signal.SIG_IGN)
hold = socket.socket()
hold.bind(("127.0.0.1", 0))
hold.listen(1)
while True:
    time.sleep(1)
"""
TAG = f"hostile-double-fork-daemon-{parent_of(os.getppid())}"


def daemons():
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                    if b"\0" + TAG.encode() + b"\0" in cmdline.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


earlier = daemons()
if earlier:
    print(f"SURVIVOR: daemon(s) {earlier} left by an earlier check are still running", flush=True)
else:
    print("no daemon left by an earlier check", flush=True)

child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.chdir("/")
        os.execve(sys.executable, [sys.executable, "-c", DAEMON, TAG], {})
    os._exit(0)
os.waitpid(child, 0)
time.sleep(0.2)
print(f"daemon started: {daemons()}", flush=True)
