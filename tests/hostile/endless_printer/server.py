"""Hostile: prints without end, as fast as it can, on both stdout and stderr: short lines
on stderr, and on stdout lines of about a megabyte each. Never listens."""
import sys
import threading


def to_stderr():
    number = 0
    while True:
        number += 1
        sys.stderr.write(f"endless printer, stderr line {number}: " + "spam " * 30 + "\n")


threading.Thread(target=to_stderr, daemon=True).start()
while True:
    for _ in range(100):
        sys.stdout.write("endless printer, no newline yet " * 300)
    sys.stdout.write("\n")
