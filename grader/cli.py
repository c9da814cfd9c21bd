"""The ``grader`` command.

    grader list
    grader check EXERCISE SUBMISSION_DIR [--json FILE] [--junit FILE] [--runner local|docker]

Exit status of ``check``: 0 every check passed, 1 graded and lost points, 2 could not be
graded (unknown exercise, unreadable folder). A missing program is graded, not an error.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
import os
import signal
import sys
from pathlib import Path

from . import report
from .catalogue import CatalogueError, all_exercises, find_exercises_root, get_exercise
from .runners import GradeRequest, SESSION_TIMEOUT
from .runners.errors import EngineUnavailable
from .verdict import session_language

EXIT_PASSED, EXIT_LOST_POINTS, EXIT_NOT_GRADED = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__.split("\n")[0] + " "
                                     "Grades TCP socket-programming exercises.")
    parser.add_argument("--exercises", metavar="DIR", help="folder of exercises "
                        "(default: ./exercises, $GRADER_EXERCISES, or the kit's)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the exercises and their maximum points")
    check = commands.add_parser("check", help="grade one submission")
    check.add_argument("exercise", nargs="?", help="exercise id (see grader list)")
    check.add_argument("submission", nargs="?", help="folder with the programs")
    check.add_argument("--all", metavar="KIT_DIR", dest="kit",
                       help="grade every exercise, each from KIT_DIR/<exercise id>/")
    check.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                       help="with --all: exercises graded at once (default: the cores)")
    add_grading_options(check)
    check.add_argument("--json", metavar="FILE", help="write Gradescope-format results here")
    check.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    batch = commands.add_parser("batch", help="grade a class: one subfolder (or zip) per student")
    batch.add_argument("exercise")
    batch.add_argument("submissions", help="folder with one subfolder per student, or a zip")
    batch.add_argument("--out", required=True, metavar="DIR", help="where results go")
    batch.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                       help="students graded at once (default: the number of cores)")
    batch.add_argument("--force", action="store_true", help="regrade students already graded")
    add_grading_options(batch, runner="docker")
    bundle = commands.add_parser("gradescope", help="build a Gradescope autograder bundle")
    bundle.add_argument("exercise")
    bundle.add_argument("--out", default="autograder.zip", metavar="ZIP")
    return parser


def add_grading_options(parser: argparse.ArgumentParser, runner: str = "local") -> None:
    parser.add_argument("--runner", choices=("local", "docker"), default=runner,
                        help=f"where the programs run (default: {runner})")
    parser.add_argument("--lang", choices=("en", "zh", "auto"), default="auto",
                        help="language of the feedback (default: from the locale)")
    parser.add_argument("--timeout", type=float, default=SESSION_TIMEOUT,
                        help=f"wall-clock limit for one submission (default {SESSION_TIMEOUT:.0f} s)")
    parser.add_argument("--image", default=os.environ.get("GRADER_IMAGE", "tcp-grader:latest"),
                        help="docker image for --runner docker (default tcp-grader:latest)")


def run_list(root: Path) -> int:
    for exercise in all_exercises(root):
        print(f"{exercise.exercise_id:24} {report.points(exercise.max_points()):>4} points  "
              f"{exercise.title} / {exercise.title_zh}")
    return EXIT_PASSED


def grade(args: argparse.Namespace, exercise, submission: Path) -> dict:
    request = GradeRequest(exercise, submission, args.lang, args.timeout)
    if args.runner == "docker":
        from .runners import docker as runner
        return runner.grade(request, image=args.image)
    from .runners import local as runner_local
    return runner_local.grade(request)


def run_check(args: argparse.Namespace, root: Path) -> int:
    if args.kit:
        return run_kit(args, root, Path(args.kit))
    if not args.exercise or not args.submission:
        print("grader: check needs EXERCISE and SUBMISSION_DIR (or --all KIT_DIR)",
              file=sys.stderr)
        return EXIT_NOT_GRADED
    exercise = get_exercise(root, args.exercise)
    submission = Path(args.submission)
    if not readable_folder(submission):
        print(f"grader: cannot read the submission folder {submission}", file=sys.stderr)
        return EXIT_NOT_GRADED
    document = grade_and_print(args, exercise, submission)
    write_outputs(args, document, exercise.exercise_id)
    return exit_status(document)


def run_kit(args: argparse.Namespace, root: Path, kit: Path) -> int:
    """Grade every exercise of the catalogue from ``kit/<id>/`` (the student's ``tox``)."""
    if not readable_folder(kit):
        print(f"grader: cannot read the folder {kit}", file=sys.stderr)
        return EXIT_NOT_GRADED
    exercises = all_exercises(root)
    # Exercises are graded side by side (each session uses its own ports); the tables are
    # printed in catalogue order as they come.
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(grade, args, exercise, kit / exercise.exercise_id)
                   for exercise in exercises]
        documents = {}
        for exercise, future in zip(exercises, futures):
            documents[exercise.exercise_id] = future.result()
            print_table(args, exercise, kit / exercise.exercise_id,
                        documents[exercise.exercise_id])
            print()
    total = sum(document["score"] for document in documents.values())
    possible = sum(document["max_score"] for document in documents.values())
    for exercise_id, document in documents.items():
        print(f"  {exercise_id:24} {report.points(document['score']):>4}/"
              f"{report.points(document['max_score'])}")
    print(f"  {'total':24} {report.points(total):>4}/{report.points(possible)}")
    combined = {"score": total, "max_score": possible, "exercises": documents}
    write_outputs(args, combined, "kit")
    return EXIT_PASSED if total >= possible else EXIT_LOST_POINTS


def readable_folder(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.R_OK | os.X_OK)


def grade_and_print(args: argparse.Namespace, exercise, submission: Path) -> dict:
    document = grade(args, exercise, submission)
    print_table(args, exercise, submission, document)
    return document


def print_table(args: argparse.Namespace, exercise, submission: Path, document: dict) -> None:
    lang = session_language(args.lang)
    title = exercise.title_zh if lang == "zh" else exercise.title
    print(report.format_table(document, f"{exercise.exercise_id}: {title}  [{submission}]", lang),
          end="", flush=True)


def write_outputs(args: argparse.Namespace, document: dict, suite: str) -> None:
    if args.json:
        Path(args.json).write_text(json.dumps(document, ensure_ascii=False, indent=2),
                                   encoding="utf-8")
    if args.junit and "tests" in document:
        Path(args.junit).write_bytes(report.junit_xml(document, suite))


def exit_status(document: dict) -> int:
    return EXIT_PASSED if document["score"] >= document["max_score"] else EXIT_LOST_POINTS


def run_batch(args: argparse.Namespace, root: Path) -> int:
    from .batch import Batch, BatchOptions
    exercise = get_exercise(root, args.exercise)
    if args.runner == "docker":
        from .runners.docker import client
        client()  # fail early, with the message below, if the engine cannot be reached
    options = BatchOptions(runner=args.runner, jobs=max(1, args.jobs), force=args.force,
                           timeout=args.timeout, lang=args.lang, image=args.image)
    status = Batch(exercise, Path(args.submissions), Path(args.out), options).run()
    if status in (0, 1, 130):
        print(f"grader batch: results in {args.out}/ (grades.csv, report.html, "
              f"<student>/results.json)")
    return status


def run_gradescope(args: argparse.Namespace, root: Path) -> int:
    from .gradescope import build_bundle
    exercise = get_exercise(root, args.exercise)
    build_bundle(exercise, Path(args.out))
    print(f"grader: wrote {args.out} (upload it as the autograder of {exercise.exercise_id})")
    return EXIT_PASSED


def _terminate(signum, _frame) -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` runs (containers are removed)."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        root = find_exercises_root(args.exercises)
        if args.command == "list":
            return run_list(root)
        if args.command == "check":
            return run_check(args, root)
        if args.command == "batch":
            return run_batch(args, root)
        if args.command == "gradescope":
            return run_gradescope(args, root)
    except CatalogueError as error:
        print(f"grader: {error}", file=sys.stderr)
        return EXIT_NOT_GRADED
    except EngineUnavailable as error:
        print(f"grader: {error}\n  The docker runner needs a running Docker engine (see "
              f"docker/README.md). To grade on this machine without containers, choose it "
              f"knowingly: --runner local (the submission's code then runs unconfined).",
              file=sys.stderr)
        return EXIT_NOT_GRADED
    except KeyboardInterrupt:
        print("grader: interrupted; nothing was left running", file=sys.stderr)
        return 130
    return EXIT_NOT_GRADED


if __name__ == "__main__":
    sys.exit(main())
