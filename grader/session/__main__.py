"""One grading session: the pytest run that grades one submission for one exercise.

This is what runs in a separate process (local runner) or inside a container (docker
runner); only the launch differs, so a submission gets the same score on both.

Isolation from the submission, as the README's security section describes:
- the interpreter runs with ``-I``: no current folder, PYTHONPATH or user site on the path,
  so a submitted ``socket.py`` or ``sitecustomize.py`` is never imported by the grader;
- ``-c`` names the grader's own ini file and ``--noconftest`` ignores every conftest.py;
- plugin autoloading is off: only ``grader.session.plugin`` is loaded;
- checks are imported with ``--import-mode=importlib`` (nothing added to ``sys.path``).

Usage: ``python -I -m grader.session EXERCISE_FOLDER SUBMISSION RESULTS_JSON LANG
[--basetemp DIR] [--parallel N] [--copy-notes FILE]`` with LANG ``en`` or ``zh`` (the host chooses it) and N
the checks run side by side (1: one after another). When ``$GRADER_FINGERPRINT`` is set and
is not this grader's own (``grader.fingerprint``), the session grades nothing and writes a
document that records a runner error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import results
from ..catalogue import CatalogueError, load_exercise
from ..fingerprint import VARIABLE, code_fingerprint
from ..language import LANGUAGES

SESSION_INI = Path(__file__).with_name("pytest-session.ini")
EXIT_RUNNER_ERROR = 5  # pytest's own "no tests collected": a session that graded nothing


def pytest_args(exercise_folder: Path, submission: Path, results_path: Path, lang: str,
                basetemp: Path | None = None, parallel: int | None = None,
                copy_notes: Path | None = None) -> list[str]:
    checks = exercise_folder / "checks"
    args = [
        str(checks), "-c", str(SESSION_INI), "--rootdir", str(checks),
        "--noconftest", "--import-mode=importlib", "-p", "grader.session.plugin",
        "-q", "--no-header", "-rN", "--color=no",
        "--grader-submission", str(submission), "--grader-json", str(results_path),
        "--grader-exercise", str(exercise_folder), "--grader-lang", lang,
    ]
    if basetemp is not None:
        args += ["--basetemp", str(basetemp)]
    if parallel is not None:
        args += ["--grader-parallel", str(parallel)]
    if copy_notes is not None:
        args += ["--grader-copy-notes", str(copy_notes)]
    return args


def refuse_other_grader(exercise_folder: Path, results_path: Path, lang: str) -> bool:
    """Write a runner-error document if the host's grader is not this one; True if so."""
    expected = os.environ.get(VARIABLE)
    if not expected or expected == code_fingerprint():
        return False
    reason = (f"the grader in this image ({code_fingerprint()}) is not the host's "
              f"({expected}): rebuild the image with bash docker/build-image.sh")
    try:
        checks = load_exercise(exercise_folder).checks()
    except CatalogueError:
        checks = []
    results.write(results_path, results.runner_failure(checks, reason, lang))
    print(f"grader session: {reason}", file=sys.stderr)
    return True


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -I -m grader.session",
                                     description="one grading session")
    parser.add_argument("exercise_folder", type=Path)
    parser.add_argument("submission", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("lang", choices=LANGUAGES)
    parser.add_argument("--basetemp", type=Path)
    parser.add_argument("--parallel", type=int)
    parser.add_argument("--copy-notes", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    if refuse_other_grader(args.exercise_folder, args.results, args.lang):
        return EXIT_RUNNER_ERROR
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import pytest

    return int(pytest.main(pytest_args(args.exercise_folder, args.submission, args.results,
                                       args.lang, args.basetemp, args.parallel,
                                       args.copy_notes)))


if __name__ == "__main__":
    sys.exit(main())
