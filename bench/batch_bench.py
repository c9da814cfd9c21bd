"""Benchmark: a class graded with ``grader batch``: throughput and how it scales with -j.

    python bench/batch_bench.py [--count 100] [--jobs 1 2] [--runs 1] [--runner docker]
                                [--exercise ID]

Generates a class of --count submissions (about 60 % references and correct programs in
other styles, 35 % faulty programs, 5 % hung programs that never listen nor answer),
grades it --runs times per --jobs value, each time into a fresh folder, and reports the
median wall time as submissions per minute, the slowest submission (its session's
execution time) and the speed-up over the first --jobs value.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
HUNG_PROGRAM = "import time\nwhile True:\n    time.sleep(1)\n"


def make_class(exercise: str, count: int, folder: Path, programs: list[str]) -> None:
    good = [TOP / "reference" / exercise] + sorted((TOP / "tests" / "correct" / exercise).glob("*"))
    faulty = sorted((TOP / "tests" / "faulty" / exercise).glob("*"))
    for number in range(count):
        student = folder / f"student{number:03d}"
        share = number % 20
        if share == 19:
            student.mkdir(parents=True)
            for program in programs:
                (student / program).write_text(HUNG_PROGRAM)
        elif share < 12:
            shutil.copytree(good[number % len(good)], student)
        else:
            shutil.copytree(faulty[number % len(faulty)], student)


def grade_class(args, work: Path, jobs: int, run: int) -> tuple[float, list[dict]]:
    out = work / f"out-j{jobs}-{run}"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", "batch", args.exercise,
                    str(work / "class"), "--out", str(out), "--runner", args.runner,
                    "-j", str(jobs)], cwd=TOP, check=True, stderr=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    return elapsed, [json.loads(path.read_text()) for path in out.glob("*/results.json")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=1, help="runs per -j; the median counts")
    parser.add_argument("--runner", default="docker")
    parser.add_argument("--exercise", default="02-tcp-server")
    args = parser.parse_args()
    sys.path.insert(0, str(TOP))
    from grader.catalogue import get_exercise
    exercise = get_exercise(TOP / "exercises", args.exercise)
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    make_class(args.exercise, args.count, work / "class", list(exercise.programs))
    results = []
    for jobs in args.jobs:
        times, slowest, graded = [], 0.0, 0
        for run in range(args.runs):
            elapsed, documents = grade_class(args, work, jobs, run)
            times.append(elapsed)
            graded = len(documents)
            slowest = max([slowest] + [document["execution_time"] for document in documents])
        elapsed = statistics.median(times)
        results.append((jobs, elapsed, graded, slowest))
        print(f"-j {jobs}: {graded} submissions in {elapsed:.0f} s (median of {args.runs}) = "
              f"{60 * graded / elapsed:.1f} per minute; slowest {slowest:.1f} s", flush=True)
    base = results[0][1]
    print("\n| -j | wall time | submissions/min | slowest submission | speed-up |")
    print("|---|---|---|---|---|")
    for jobs, elapsed, count, slowest in results:
        print(f"| {jobs} | {elapsed:.0f} s | {60 * count / elapsed:.1f} | {slowest:.1f} s | "
              f"{base / elapsed:.2f}x |")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
