"""Hostile: burns every CPU it can get with 16 spinning processes and never listens.
Graded in the container only (1 CPU)."""
import os
import sys

if not (2000 <= os.getuid() < 2256 and os.path.exists("/.dockerenv") and os.path.isdir("/opt/grader")):
    sys.exit("cpu_burn_never_listens: refusing to run outside the grading container")

print(f"burning with 16 processes on port {sys.argv[1:]} (never listening)", flush=True)
for _ in range(15):
    if os.fork() == 0:
        break
count = 0
while True:
    count += 1
