"""Benchmark: what the wire view's capture costs a grade, per exercise, as medians.

    python bench/wire_bench.py [--runs 5] [--exercise ID ...]

Each reference is graded --runs times with the capture (the default) and --runs times
without it (``GRADER_NO_CAPTURE=1``), alternating, so that both see the same machine.
Reported per exercise: both medians, their difference (the cost of capturing, which the
wire view must keep under half a second) and their ratio. Whether a capture was possible
here is printed first: without one both columns measure the same thing.
Times are wall-clock seconds on this machine: compare ratios across machines, not times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from grader.catalogue import all_exercises  # noqa: E402
from grader.host.runners import GradeRequest, get_runner  # noqa: E402
from grader.session import capture  # noqa: E402


def timed_grade(exercise, folder: Path, capturing: bool) -> tuple[float, float]:
    """Seconds, and the document's score (the verdicts must not change)."""
    saved = os.environ.get(capture.OFF_SWITCH)
    os.environ[capture.OFF_SWITCH] = "0" if capturing else "1"
    try:
        started = time.monotonic()
        document = get_runner("local").grade(GradeRequest(exercise, folder, "en", 600))
        return time.monotonic() - started, document["score"]
    finally:
        if saved is None:
            os.environ.pop(capture.OFF_SWITCH, None)
        else:
            os.environ[capture.OFF_SWITCH] = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--exercise", action="append", default=[])
    args = parser.parse_args()
    opened = capture.start()
    if isinstance(opened, str):
        print(f"no capture on this machine ({opened}): both columns are the same grade")
    else:
        opened.close()
    exercises = [exercise for exercise in all_exercises(TOP / "exercises")
                 if not args.exercise or exercise.exercise_id in args.exercise]
    print(f"{'exercise':24} {'with capture':>13} {'without':>9} {'cost':>7} {'ratio':>6}  scores")
    for exercise in exercises:
        folder = TOP / "reference" / exercise.exercise_id
        times = {True: [], False: []}
        scores = set()
        for _ in range(args.runs):
            for capturing in (True, False):
                seconds, score = timed_grade(exercise, folder, capturing)
                times[capturing].append(seconds)
                scores.add(score)
        with_capture, without = (statistics.median(times[True]),
                                 statistics.median(times[False]))
        print(f"{exercise.exercise_id:24} {with_capture:12.2f}s {without:8.2f}s "
              f"{with_capture - without:+6.2f}s {with_capture / without:6.2f}  "
              f"{'same' if len(scores) == 1 else sorted(scores)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
