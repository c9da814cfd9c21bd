"""Hostile: a memory bomb. Two processes fill memory with written (not just reserved) pages,
64 MiB at a time, until the kernel stops them. Graded in the container only."""
import os
import sys
import time

if not (2000 <= os.getuid() < 2256 and os.path.exists("/.dockerenv") and os.path.isdir("/opt/grader")):
    sys.exit("memory_bomb: refusing to run outside the grading container")

CHUNK = 64 * 1024 * 1024
print("memory bomb armed", flush=True)
os.fork()  # two of us
hoard = []
while True:
    try:
        hoard.append(b"\x5a" * CHUNK)  # bytes multiplication writes every page
    except MemoryError:
        # The address-space limit refused more: hold what we have and try again.
        time.sleep(0.05)
        if len(hoard) * CHUNK > 8 * 1024 ** 3:
            print(f"memory bomb survived with {len(hoard) * 64} MiB", flush=True)
