"""Benchmark: how long grading takes, per exercise, as medians of several runs.

    python bench/bench.py [--runs 3] [--docker] [--exercise ID ...]

Reports, for every exercise: the reference solution (median of --runs), every faulty
program (each once; the median and the slowest), and a hung program (never answers, never
listens: the worst case a submission can cost). With --docker it also grades each
reference with the docker runner and reports the container's cost as the ratio docker /
local and the overhead in seconds (medians). Times are wall-clock seconds on this
machine; compare ratios across machines, not absolute times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from grader.catalogue import all_exercises  # noqa: E402
from grader.runners import GradeRequest  # noqa: E402
from grader.runners import local  # noqa: E402

HUNG_PROGRAM = "import time\nwhile True:\n    time.sleep(1)\n"


def timed(grade, request: GradeRequest) -> tuple[float, dict]:
    started = time.monotonic()
    document = grade(request)
    return time.monotonic() - started, document


def hung_submission(programs: tuple[str, ...], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for program in programs:
        (folder / program).write_text(HUNG_PROGRAM, encoding="utf-8")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docker", action="store_true")
    parser.add_argument("--exercise", nargs="*")
    parser.add_argument("--references-only", action="store_true",
                        help="skip the faulty and hung programs (for a quick docker ratio)")
    args = parser.parse_args()
    docker_grade = None
    if args.docker:
        from grader.runners import docker
        docker_grade = docker.grade
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    for exercise in all_exercises(TOP / "exercises"):
        if args.exercise and exercise.exercise_id not in args.exercise:
            continue
        reference = TOP / "reference" / exercise.exercise_id
        request = GradeRequest(exercise, reference, "en", 600)
        ref_times = [timed(local.grade, request)[0] for _run in range(args.runs)]
        faulty_folders = [] if args.references_only else sorted(
            (TOP / "tests" / "faulty" / exercise.exercise_id).iterdir())
        faulty_times = [timed(local.grade, GradeRequest(exercise, folder, "en", 600))[0]
                        for folder in faulty_folders] or [0.0]
        hung_time, hung_doc = 0.0, {"score": 0.0}
        if not args.references_only:
            hung = hung_submission(exercise.programs, scratch / exercise.exercise_id)
            hung_time, hung_doc = timed(local.grade, GradeRequest(exercise, hung, "en", 600))
        row = {"exercise": exercise.exercise_id, "reference": statistics.median(ref_times),
               "faulty_median": statistics.median(faulty_times),
               "faulty_max": max(faulty_times), "faulty_count": len(faulty_times),
               "hung": hung_time, "hung_score": hung_doc["score"]}
        if docker_grade:
            docker_times = [timed(lambda r: docker_grade(r), request)[0]
                            for _run in range(args.runs)]
            row["docker"] = statistics.median(docker_times)
        rows.append(row)
        print(_format(row), flush=True)
    print()
    print("| exercise | reference | faulty (median / slowest of n) | hung program |"
          + (" docker | docker/local | overhead |" if docker_grade else ""))
    print("|---|---|---|---|" + ("---|---|---|" if docker_grade else ""))
    for row in rows:
        line = (f"| {row['exercise']} | {row['reference']:.2f} s | {row['faulty_median']:.2f} / "
                f"{row['faulty_max']:.2f} s (n={row['faulty_count']}) | {row['hung']:.1f} s |")
        if docker_grade:
            line += (f" {row['docker']:.2f} s | {row['docker'] / row['reference']:.2f} | "
                     f"{row['docker'] - row['reference']:+.2f} s |")
        print(line)
    total = sum(row["reference"] for row in rows)
    print(f"\nall references: {total:.1f} s; worst hung program: "
          f"{max(row['hung'] for row in rows):.1f} s")
    return 0


def _format(row: dict) -> str:
    return ", ".join(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}"
                     for key, value in row.items())


if __name__ == "__main__":
    sys.exit(main())
