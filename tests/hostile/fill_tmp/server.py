"""Hostile: fills the scratch file systems (/tmp, where the grader works too, and /dev/shm)
until they are full, then stays, never listening."""
import errno
import os
import sys
import time

if not (2000 <= os.getuid() < 2256 and os.path.exists("/.dockerenv") and os.path.isdir("/opt/grader")):
    sys.exit("fill_tmp: refusing to run outside the grading container")

BLOCK = b"\xee" * (1024 * 1024)
for top in ("/tmp", "/dev/shm"):
    written, number = 0, 0
    full = False
    while not full and written < 4 * 1024 ** 3:
        number += 1
        path = os.path.join(top, f"fill-{os.getpid()}-{number}")
        try:
            with open(path, "wb") as handle:
                for _ in range(32):  # 32 MiB a file: under the 64 MiB file-size limit
                    handle.write(BLOCK)
                    written += len(BLOCK)
        except OSError as error:
            full = error.errno in (errno.ENOSPC, errno.EDQUOT)
            if not full:
                print(f"fill_tmp: {top}: {error}", flush=True)
                break
    print(f"fill_tmp: full after {written // 1024 ** 2} MiB in {top}", flush=True)
while True:
    time.sleep(1)
