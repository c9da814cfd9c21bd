"""Benchmark: how long grading takes, per exercise and for the whole kit, as medians.

    python bench/bench.py [--runs 3] [--docker] [--exercise ID ...] [--references-only]
                          [--side-by-side-only]

Every figure is measured twice: with the checks of an exercise side by side (the default)
and one after another (``parallel=1``, how the grader worked before), and reported with
their ratio. Per exercise: the reference (median of --runs), every faulty program and every
correct program in another style (each once: the median and the slowest), a hung program
(never answers, never listens: the worst case a submission can cost) and the kit's fresh
starter (reported as not started, never run). For the kit: ``grader check --all`` of a
fresh kit (what a student's first ``tox`` runs) and of the references, as whole commands
(median of --runs). With --docker, each reference with the docker runner too.
Times are wall-clock seconds on this machine: compare ratios across machines, not times.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from grader.catalogue import Exercise, all_exercises  # noqa: E402
from grader.host.runners import GradeRequest, get_runner  # noqa: E402

HUNG_PROGRAM = "import time\nwhile True:\n    time.sleep(1)\n"
SCHEDULES = {"side by side": None, "one after another": 1}


def timed_grade(exercise: Exercise, folder: Path, parallel: int | None,
                runner: str = "local") -> float:
    started = time.monotonic()
    get_runner(runner).grade(GradeRequest(exercise, folder, "en", 600, parallel=parallel))
    return time.monotonic() - started


def timed_command(*args: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", *args], cwd=TOP, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def hung_submission(exercise: Exercise, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for program in exercise.programs:
        (folder / program).write_text(HUNG_PROGRAM, encoding="utf-8")
    return folder


def fresh_kit(exercises: list[Exercise], folder: Path) -> Path:
    for exercise in exercises:
        (folder / exercise.exercise_id).mkdir(parents=True, exist_ok=True)
        for program in exercise.programs:
            shutil.copyfile(exercise.folder / program, folder / exercise.exercise_id / program)
    return folder


def measure_exercise(exercise: Exercise, args, scratch: Path) -> dict:
    reference = TOP / "reference" / exercise.exercise_id
    others = [] if args.references_only else sorted(
        [path for kind in ("faulty", "correct")
         for path in (TOP / "tests" / kind / exercise.exercise_id).iterdir() if path.is_dir()])
    hung = hung_submission(exercise, scratch / "hung" / exercise.exercise_id)
    starter = fresh_kit([exercise], scratch / "starter") / exercise.exercise_id
    row = {"exercise": exercise.exercise_id, "others": len(others)}
    for name, parallel in schedules(args).items():
        row[name] = {
            "reference": statistics.median(timed_grade(exercise, reference, parallel)
                                           for _run in range(args.runs)),
            "others": [timed_grade(exercise, folder, parallel) for folder in others] or [0.0],
            "hung": 0.0 if args.references_only else timed_grade(exercise, hung, parallel),
            "starter": timed_grade(exercise, starter, parallel),
        }
        if args.docker:
            row[name]["docker"] = statistics.median(
                timed_grade(exercise, reference, parallel, "docker") for _run in range(args.runs))
    return row


def print_header(docker: bool) -> None:
    print("| exercise | reference | faulty and correct (median / slowest of n) | hung "
          "program | fresh starter |" + (" reference, docker |" if docker else ""))
    print("|---|---|---|---|---|" + ("---|" if docker else ""), flush=True)


def schedules(args) -> dict[str, int | None]:
    """The schedules to measure: both, or with --side-by-side-only the default alone (half
    the time; compare with figures of the other schedule measured before)."""
    return {name: parallel for name, parallel in SCHEDULES.items()
            if parallel is None or not args.side_by_side_only}


def print_row(row: dict, docker: bool) -> None:
    """One exercise's line, printed as soon as it is measured (a long run shows progress)."""
    now, before = SCHEDULES
    a = row[now]
    if before not in row:
        cells = [f"{a['reference']:.2f} s", f"{statistics.median(a['others']):.2f} / "
                 f"{max(a['others']):.2f} s (n={row['others']})", f"{a['hung']:.1f} s",
                 f"{a['starter']:.2f} s"] + ([f"{a['docker']:.2f} s"] if docker else [])
        print(f"| {row['exercise']} | " + " | ".join(cells) + " |", flush=True)
        return
    b = row[before]
    cells = [f"{a['reference']:.2f} s ({a['reference'] / b['reference']:.2f}x)",
             f"{statistics.median(a['others']):.2f} / {max(a['others']):.2f} s "
             f"(n={row['others']}; was {statistics.median(b['others']):.2f} / "
             f"{max(b['others']):.2f} s)",
             f"{a['hung']:.1f} s (was {b['hung']:.1f} s)",
             f"{a['starter']:.2f} s (was {b['starter']:.2f} s)"]
    if docker:
        cells.append(f"{a['docker']:.2f} s ({a['docker'] / b['docker']:.2f}x)")
    print(f"| {row['exercise']} | " + " | ".join(cells) + " |", flush=True)


def print_totals(rows: list[dict]) -> None:
    measured = [name for name in SCHEDULES if name in rows[0]]
    totals = {name: sum(sum(row[name]["others"]) for row in rows) for name in measured}
    for name in measured:
        references = sum(row[name]["reference"] for row in rows)
        print(f"\n{name}: every faulty and correct program one submission after another "
              f"{totals[name]:.1f} s; every reference {references:.1f} s; worst hung program "
              f"{max(row[name]['hung'] for row in rows):.1f} s")
    now, before = SCHEDULES
    if totals.get(before):
        print(f"every faulty and correct program, {now} / {before}: "
              f"{totals[now] / totals[before]:.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docker", action="store_true")
    parser.add_argument("--exercise", nargs="*")
    parser.add_argument("--references-only", action="store_true",
                        help="skip the faulty, correct and hung programs (a quick look)")
    parser.add_argument("--side-by-side-only", action="store_true",
                        help="measure the default schedule only, not one after another")
    args = parser.parse_args()
    exercises = [exercise for exercise in all_exercises(TOP / "exercises")
                 if not args.exercise or exercise.exercise_id in args.exercise]
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        rows = []
        print_header(args.docker)
        for exercise in exercises:
            rows.append(measure_exercise(exercise, args, scratch))
            print_row(rows[-1], args.docker)
        print_totals(rows)
        kit = fresh_kit(exercises, scratch / "kit")
        chosen = [exercise.exercise_id for exercise in exercises] if args.exercise else []
        fresh = statistics.median(timed_command("check", "--all", str(kit), *chosen)
                                  for _run in range(args.runs))
        references = statistics.median(timed_command("check", "--all", "reference", *chosen)
                                       for _run in range(args.runs))
        print(f"\ngrader check --all (what tox runs), median of {args.runs}: a fresh kit "
              f"{fresh:.1f} s; the references {references:.1f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
