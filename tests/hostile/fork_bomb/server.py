"""Hostile: a fork bomb. Every process forks as fast as it can, in a new session, forever.
Graded in the container only: the pids limit stops it, the grader kills what is left."""
import os
import sys

if not (2000 <= os.getuid() < 2256 and os.path.exists("/.dockerenv") and os.path.isdir("/opt/grader")):
    sys.exit("fork_bomb: refusing to run outside the grading container")

print("fork bomb armed", flush=True)
while True:
    try:
        if os.fork() == 0:
            try:
                os.setsid()  # leave the program's session and process group
            except OSError:
                pass
    except OSError:
        pass  # EAGAIN at the pids limit: try again at once
