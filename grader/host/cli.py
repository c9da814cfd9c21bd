"""The ``grader`` command.

    grader list [--requirements EXERCISE]
    grader check EXERCISE SUBMISSION_DIR [--json FILE] [--junit FILE] [--runner local|docker]
    grader check --all KIT_DIR [-j N]
        --wire: every check's connections, segment by segment; --pcap DIR: one .pcap per check
    grader batch EXERCISE SUBMISSIONS --out DIR [--runner docker|local] [-j N] [--force]
    grader gradescope EXERCISE [--out ZIP]
    grader worker --broker URL [--runner docker|local] [-j N] [--visibility-timeout S]
    grader kit --out DIR [EXERCISE...] [--wheel FILE] [--answers DIR]
    grader new ID [--program NAME] [--title T] [--title-zh T] [--lesson L] [--answers DIR]
    grader verify EXERCISE [--answers DIR] [-j N] [--runner local|docker]

``kit`` writes a student kit (no answers in it), ``new`` scaffolds an exercise with its
reference and a faulty program, ``verify`` proves an exercise grades right both ways.

Exit status of ``check``: 0 every check passed, 1 graded and lost points, 2 could not be
graded (unknown exercise, unreadable folder, the runner or the grader failed). A missing
program is graded, not an error.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import os
import signal
import sys
from pathlib import Path

from .. import requirements, results
from ..catalogue import CatalogueError, all_exercises, find_exercises_root, get_exercise
from ..language import choose as choose_language
from . import pcap, report
from .runners import DEFAULT_IMAGE, SESSION_TIMEOUT, GradeRequest, RunnerUnavailable, get_runner

EXIT_PASSED, EXIT_LOST_POINTS, EXIT_NOT_GRADED = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__.split("\n")[0] + " "
                                     "Grades TCP socket-programming exercises.")
    parser.add_argument("--exercises", metavar="DIR", help="folder of exercises "
                        "(default: ./exercises, $GRADER_EXERCISES, or the kit's)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list the exercises and their maximum points")
    listing.add_argument("--requirements", metavar="EXERCISE",
                         help="every rule of the exercise's statement and the check that "
                         "proves it")
    check = commands.add_parser("check", help="grade one submission")
    check.add_argument("targets", nargs="*", metavar="EXERCISE [SUBMISSION_DIR]",
                       help="exercise id (see grader list) and the folder with the programs; "
                       "with --all, the exercises to grade (ids or their numbers, e.g. 03)")
    check.add_argument("--all", metavar="KIT_DIR", dest="kit",
                       help="grade every exercise, each from KIT_DIR/<exercise id>/")
    check.add_argument("-j", "--jobs", type=int, default=(os.cpu_count() or 1) + 1,
                       help="with --all: exercises graded at once (default: one more than "
                       "the cores, as an exercise spends much of its time waiting for the "
                       "programs)")
    check.add_argument("-v", "--verbose", action="store_true",
                       help="with --all: every exercise's table and feedback, not only those "
                       "started that lost points")
    add_grading_options(check)
    check.add_argument("--json", metavar="FILE", help="write Gradescope-format results here")
    check.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    check.add_argument("--wire", action="store_true",
                       help="show the ladder of every check's connections, not only of "
                       "those that failed")
    check.add_argument("--pcap", metavar="DIR", help="write each check's captured packets "
                       "to DIR as .pcap files (with --all: DIR/<exercise id>/)")
    batch = commands.add_parser("batch", help="grade a class: one subfolder (or zip) per student")
    batch.add_argument("exercise")
    batch.add_argument("submissions", help="folder with one subfolder per student, or a zip")
    batch.add_argument("--out", required=True, metavar="DIR", help="where results go")
    batch.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                       help="students graded at once (default: the number of cores)")
    batch.add_argument("--force", action="store_true", help="regrade students already graded")
    add_grading_options(batch, runner="docker")
    add_queue_commands(commands, batch)
    bundle = commands.add_parser("gradescope", help="build a Gradescope autograder bundle")
    bundle.add_argument("exercise")
    bundle.add_argument("--out", default="autograder.zip", metavar="ZIP")
    add_teacher_commands(commands)
    return parser


def add_teacher_commands(commands) -> None:
    """``kit``, ``new`` and ``verify``: what a teacher adopting the kit uses."""
    answers_help = ("the folder with reference/ and tests/ (correct and faulty programs); "
                    "default: the folder that holds the exercises folder")
    kit = commands.add_parser("kit", help="write a student kit: the exercises, tox.ini, "
                              "READMEs, a GitHub Classroom workflow and the grader's wheel")
    kit.add_argument("chosen", nargs="*", metavar="EXERCISE",
                     help="the exercises to put in (ids or numbers; default: all)")
    kit.add_argument("--out", required=True, metavar="DIR", help="a new folder for the kit")
    kit.add_argument("--wheel", metavar="FILE", help="the grader's wheel to ship (default: "
                     "built now from this grader's source tree)")
    kit.add_argument("--answers", metavar="DIR", help=answers_help + "; nothing of it may "
                     "go into the kit")
    new = commands.add_parser("new", help="scaffold a new exercise, with a first check, a "
                              "reference and a faulty program")
    new.add_argument("exercise_id", metavar="ID", help="number and name, e.g. 08-time-server")
    new.add_argument("--program", default="server.py", help="the student's program "
                     "(default: server.py)")
    new.add_argument("--title", default="", help="the title in English")
    new.add_argument("--title-zh", default="", help="the title in Chinese")
    new.add_argument("--lesson", default="", help="the lesson it belongs to, e.g. 4.3")
    new.add_argument("--answers", metavar="DIR", help=answers_help)
    verify = commands.add_parser("verify", help="prove that an exercise grades right: the "
                                 "reference full marks, every check failed by its faulty "
                                 "program, every correct program passes")
    verify.add_argument("exercise")
    verify.add_argument("--answers", metavar="DIR", help=answers_help)
    verify.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="programs graded at once (default: the number of cores)")
    add_grading_options(verify)


def add_grading_options(parser: argparse.ArgumentParser, runner: str = "local") -> None:
    parser.add_argument("--runner", choices=("local", "docker"), default=runner,
                        help=f"where the programs run (default: {runner})")
    parser.add_argument("--lang", choices=("en", "zh", "auto"), default="auto",
                        help="language of the feedback (default: from the locale)")
    parser.add_argument("--timeout", type=float, default=SESSION_TIMEOUT,
                        help=f"wall-clock limit for one submission (default {SESSION_TIMEOUT:.0f} s)")
    parser.add_argument("--image", default=os.environ.get("GRADER_IMAGE", DEFAULT_IMAGE),
                        help=f"docker image for --runner docker (default {DEFAULT_IMAGE})")


def add_queue_commands(commands, batch: argparse.ArgumentParser) -> None:
    """``batch --broker`` and ``worker``: a class graded by many machines on a shared queue."""
    batch.add_argument("--broker", metavar="URL", help="send every student to the queue at "
                       "this Redis URL (redis://HOST:PORT/DB) and gather the results; "
                       "`grader worker` processes grade them (then -j and --runner are theirs)")
    worker = commands.add_parser("worker", help="grade the tasks of a shared queue on this "
                                 "machine, with this machine's exercises")
    worker.add_argument("--broker", required=True, metavar="URL", help="the queue's Redis URL")
    worker.add_argument("--runner", choices=("local", "docker"), default="docker",
                        help="where the programs run (default: docker)")
    worker.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="students graded at once (default: the number of cores)")
    worker.add_argument("--image", default=os.environ.get("GRADER_IMAGE", DEFAULT_IMAGE),
                        help=f"docker image for --runner docker (default {DEFAULT_IMAGE})")
    worker.add_argument("--visibility-timeout", type=float, metavar="S", default=None,
                        help="seconds after which a task this worker took and never finished "
                        "(it was killed) goes to another worker; longer than the longest "
                        "grade (default: 1800)")
    worker.add_argument("--name", metavar="NAME@HOST", help="the worker's name (default: "
                        "grader-PID@HOSTNAME)")


def run_list(args: argparse.Namespace, root: Path) -> int:
    if args.requirements:
        return run_requirements(args, get_exercise(root, args.requirements))
    for exercise in all_exercises(root):
        print(f"{exercise.exercise_id:24} {report.points(exercise.max_points()):>4} points  "
              f"{exercise.title} / {exercise.title_zh}")
    return EXIT_PASSED


def grade(args: argparse.Namespace, exercise, submission: Path) -> dict:
    request = GradeRequest(exercise, submission, args.lang, args.timeout, args.image)
    return get_runner(args.runner).grade(request)


def run_requirements(args: argparse.Namespace, exercise) -> int:
    lang = choose_language(None)
    try:
        table = requirements.exercise_table(exercise.folder, lang)
    except (OSError, requirements.TableMissing) as error:
        print(f"grader: {error}", file=sys.stderr)
        return EXIT_NOT_GRADED
    for number, row in enumerate(table.rows, 1):
        checks = ", ".join(row.checks) or requirements.NOT_GRADED[lang]
        print(f"{number:3}. {row.rule}\n     -> {checks} ({row.points})")
    print(f"     {'总分' if lang == 'zh' else 'total'}: {table.total}")
    return EXIT_PASSED


def run_check(args: argparse.Namespace, root: Path) -> int:
    if args.kit:
        return run_kit(args, root, Path(args.kit))
    if len(args.targets) != 2:
        print("grader: check needs EXERCISE and SUBMISSION_DIR (or --all KIT_DIR)",
              file=sys.stderr)
        return EXIT_NOT_GRADED
    exercise = get_exercise(root, args.targets[0])
    submission = Path(args.targets[1])
    if not readable_folder(submission):
        print(f"grader: cannot read the submission folder {submission}", file=sys.stderr)
        return EXIT_NOT_GRADED
    document = grade_and_print(args, exercise, submission)
    write_outputs(args, document, exercise.exercise_id)
    write_pcaps(args, document, Path(args.pcap) if args.pcap else None)
    if not results.is_grade(document):
        print(f"grader: not graded: {document[results.RUNNER_ERROR]}", file=sys.stderr)
        return EXIT_NOT_GRADED
    return exit_status(document)


def run_kit(args: argparse.Namespace, root: Path, kit: Path) -> int:
    """Grade the exercises of the catalogue (or those named) from ``kit/<id>/``: the
    student's ``tox``. One line per exercise; the details only of those started that lost
    points (``-v``: all), so the view fits one screen however much is still to do."""
    if not readable_folder(kit):
        print(f"grader: cannot read the folder {kit}", file=sys.stderr)
        return EXIT_NOT_GRADED
    exercises = ([get_exercise(root, target) for target in args.targets] if args.targets
                 else all_exercises(root))
    # Exercises are graded side by side (each session reserves its own ports), the longest
    # first: started last, the longest would be graded alone at the end. Reports keep the
    # catalogue's order.
    longest_first = sorted(exercises, key=lambda exercise: -exercise.grading_seconds)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        graded = dict(zip([exercise.exercise_id for exercise in longest_first], pool.map(
            lambda exercise: grade(args, exercise, kit / exercise.exercise_id), longest_first)))
    documents = {exercise.exercise_id: graded[exercise.exercise_id] for exercise in exercises}
    for exercise in exercises:
        document = documents[exercise.exercise_id]
        if args.verbose or report.status(document) in ("lost points", "not graded"):
            print_table(args, exercise, kit / exercise.exercise_id, document)
            print()
        write_pcaps(args, document,
                    Path(args.pcap) / exercise.exercise_id if args.pcap else None)
    print(report.format_summary(documents, args.lang), end="", flush=True)
    total = sum(document["score"] for document in documents.values())
    possible = sum(document["max_score"] for document in documents.values())
    write_outputs(args, {"score": total, "max_score": possible, "exercises": documents}, "kit")
    if not all(results.is_grade(document) for document in documents.values()):
        return EXIT_NOT_GRADED
    return EXIT_PASSED if total >= possible else EXIT_LOST_POINTS


def readable_folder(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.R_OK | os.X_OK)


def grade_and_print(args: argparse.Namespace, exercise, submission: Path) -> dict:
    document = grade(args, exercise, submission)
    print_table(args, exercise, submission, document)
    return document


def print_table(args: argparse.Namespace, exercise, submission: Path, document: dict) -> None:
    lang = args.lang
    title = exercise.title_zh if lang == "zh" else exercise.title
    print(report.format_table(document, f"{exercise.exercise_id}: {title}  [{submission}]", lang),
          end="", flush=True)
    if args.wire:
        print(report.format_wires(document, lang), end="", flush=True)


def write_pcaps(args: argparse.Namespace, document: dict, folder: Path | None) -> None:
    if folder is None:
        return
    written = pcap.write_all(document, folder)
    print(f"grader: {len(written)} capture files in {folder}", file=sys.stderr)


def write_outputs(args: argparse.Namespace, document: dict, suite: str) -> None:
    if args.json:
        results.write(Path(args.json), document)
    if args.junit and "tests" in document:
        Path(args.junit).write_bytes(report.junit_xml(document, suite))


def exit_status(document: dict) -> int:
    return EXIT_PASSED if document["score"] >= document["max_score"] else EXIT_LOST_POINTS


def run_batch(args: argparse.Namespace, root: Path) -> int:
    from .batch import Batch, BatchOptions
    exercise = get_exercise(root, args.exercise)
    pool, runner = None, None
    if args.broker:  # the workers grade: this machine needs no runner, only the broker
        from .queueapp import QueueUnavailable
        from .queuebatch import QueuePool, QueueUnreachable
        try:
            pool = QueuePool(args.broker)
            pool.check_reachable()
        except (QueueUnavailable, QueueUnreachable) as error:
            print(f"grader batch: {error}", file=sys.stderr)
            return EXIT_NOT_GRADED
    else:
        runner = get_runner(args.runner)
        runner.check_available()  # fail early, with the message below, if it cannot grade here
    options = BatchOptions(runner=runner, jobs=max(1, args.jobs), force=args.force,
                           timeout=args.timeout, lang=args.lang, image=args.image, pool=pool)
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


def run_write_kit(args: argparse.Namespace, root: Path) -> int:
    from .answers import answers_of
    from .kit import KitError, write_kit
    exercises = ([get_exercise(root, target) for target in args.chosen] if args.chosen
                 else all_exercises(root))
    try:
        kit = write_kit(exercises, Path(args.out), answers_of(root, args.answers),
                        Path(args.wheel) if args.wheel else None)
    except KitError as error:
        print(f"grader kit: {error}", file=sys.stderr)
        return EXIT_NOT_GRADED
    shipped = ", ".join(path.name for path in sorted((kit / "wheels").iterdir()))
    print(f"grader kit: wrote {kit}/ with {len(exercises)} exercise(s): "
          f"{', '.join(exercise.exercise_id for exercise in exercises)}")
    print(f"  the grader: wheels/{shipped} (tox installs it from there)")
    print(f"  students run: pip install tox; cd {kit.name}; tox")
    return EXIT_PASSED


def run_new(args: argparse.Namespace) -> int:
    from .answers import answers_of
    from .scaffold import NewExercise, ScaffoldError, create
    # Never the installed copy: a new exercise goes where the teacher works.
    root = Path(args.exercises or os.environ.get("GRADER_EXERCISES") or "exercises")
    new = NewExercise(args.exercise_id, args.program, args.title, args.title_zh, args.lesson)
    try:
        written = create(new, root, answers_of(root, args.answers))
    except ScaffoldError as error:
        print(f"grader new: {error}", file=sys.stderr)
        return EXIT_NOT_GRADED
    print(f"grader new: wrote {args.exercise_id}")
    for path in written:
        print(f"  {os.path.relpath(path)}")
    again = f"grader --exercises {root} verify" if args.exercises else "grader verify"
    print("Next: a rule in the statements, its check, its faulty program; then")
    print(f"  {again} {args.exercise_id}")
    print("(docs/writing-an-exercise.md walks through a whole exercise)")
    return EXIT_PASSED


def run_verify(args: argparse.Namespace, root: Path) -> int:
    from .answers import answers_of
    from .verify import Options, format_report, verify
    exercise = get_exercise(root, args.exercise)
    answers = answers_of(root, args.answers)
    options = Options(runner=args.runner, lang=args.lang, jobs=max(1, args.jobs),
                      timeout=args.timeout, image=args.image)
    get_runner(args.runner).check_available()
    proofs = verify(exercise, answers, options)
    print(format_report(exercise, answers, proofs), end="", flush=True)
    return EXIT_PASSED if all(proof.holds for proof in proofs) else EXIT_LOST_POINTS


def run_worker(args: argparse.Namespace, root: Path) -> int:
    from .queueapp import DEFAULT_VISIBILITY_TIMEOUT, QueueUnavailable
    runner = get_runner(args.runner)
    runner.check_available()
    try:
        from .queueworker import run_worker as work
        return work(args.broker, runner, root, max(1, args.jobs), args.image,
                    args.visibility_timeout or DEFAULT_VISIBILITY_TIMEOUT, args.name)
    except QueueUnavailable as error:
        print(f"grader worker: {error}", file=sys.stderr)
        return EXIT_NOT_GRADED


def _terminate(signum, _frame) -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` runs (containers are removed)."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "lang"):
        args.lang = choose_language(args.lang)  # once, here; the session is told
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.command == "new":
            return run_new(args)
        root = find_exercises_root(args.exercises)
        if args.command == "list":
            return run_list(args, root)
        if args.command == "check":
            return run_check(args, root)
        if args.command == "batch":
            return run_batch(args, root)
        if args.command == "gradescope":
            return run_gradescope(args, root)
        if args.command == "worker":
            return run_worker(args, root)
        if args.command == "kit":
            return run_write_kit(args, root)
        if args.command == "verify":
            return run_verify(args, root)
    except CatalogueError as error:
        print(f"grader: {error}", file=sys.stderr)
        return EXIT_NOT_GRADED
    except RunnerUnavailable as error:
        print(f"grader: {error}\n  The docker runner needs a running Docker engine (see "
              f"docker/README.md). To grade on this machine without containers, choose it "
              f"knowingly: --runner local (the submission's code then runs unconfined).",
              file=sys.stderr)
        return EXIT_NOT_GRADED
    except KeyboardInterrupt:
        print("grader: interrupted; nothing was left running", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``grader list | head``): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PASSED
    return EXIT_NOT_GRADED


if __name__ == "__main__":
    sys.exit(main())
