"""The ``grader`` command.

    grader list
    grader check EXERCISE SUBMISSION_DIR [--json FILE] [--junit FILE] [--runner local|docker]

Exit status of ``check``: 0 every check passed, 1 graded and lost points, 2 could not be
graded (unknown exercise, unreadable folder). A missing program is graded, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import report
from .catalogue import CatalogueError, all_exercises, find_exercises_root, get_exercise
from .runners import GradeRequest, SESSION_TIMEOUT
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
    check.add_argument("exercise")
    check.add_argument("submission")
    add_grading_options(check)
    check.add_argument("--json", metavar="FILE", help="write Gradescope-format results here")
    check.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
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
    exercise = get_exercise(root, args.exercise)
    submission = Path(args.submission)
    if not submission.is_dir() or not os.access(submission, os.R_OK | os.X_OK):
        print(f"grader: cannot read the submission folder {submission}", file=sys.stderr)
        return EXIT_NOT_GRADED
    document = grade(args, exercise, submission)
    lang = session_language(args.lang)
    title = exercise.title_zh if lang == "zh" else exercise.title
    print(report.format_table(document, f"{exercise.exercise_id}: {title}  [{submission}]", lang),
          end="")
    if args.json:
        Path(args.json).write_text(json.dumps(document, ensure_ascii=False, indent=2),
                                   encoding="utf-8")
    if args.junit:
        Path(args.junit).write_bytes(report.junit_xml(document, exercise.exercise_id))
    return EXIT_PASSED if document["score"] >= document["max_score"] else EXIT_LOST_POINTS


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        root = find_exercises_root(args.exercises)
        if args.command == "list":
            return run_list(root)
        if args.command == "check":
            return run_check(args, root)
    except CatalogueError as error:
        print(f"grader: {error}", file=sys.stderr)
        return EXIT_NOT_GRADED
    return EXIT_NOT_GRADED


if __name__ == "__main__":
    sys.exit(main())
