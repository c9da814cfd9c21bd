"""One grading session: the pytest run that grades one submission for one exercise.

This is what runs in a separate process (local runner) or inside a container (docker
runner); only the launch differs, so a submission gets the same score on both.

Isolation from the submission, as design principle 4 asks:
- the interpreter runs with ``-I``: no current folder, PYTHONPATH or user site on the path,
  so a submitted ``socket.py`` or ``sitecustomize.py`` is never imported by the grader;
- ``-c`` names the grader's own ini file and ``--noconftest`` ignores every conftest.py;
- plugin autoloading is off: only ``grader.plugin`` is loaded;
- checks are imported with ``--import-mode=importlib`` (nothing added to ``sys.path``).

Usage: ``python -I -m grader.session EXERCISE_FOLDER SUBMISSION RESULTS_JSON [LANG]``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SESSION_INI = Path(__file__).with_name("pytest-session.ini")


def pytest_args(exercise_folder: Path, submission: Path, results: Path, lang: str = "auto",
                basetemp: Path | None = None) -> list[str]:
    checks = exercise_folder / "checks"
    args = [
        str(checks), "-c", str(SESSION_INI), "--rootdir", str(checks),
        "--noconftest", "--import-mode=importlib", "-p", "grader.plugin",
        "-q", "--no-header", "-rN", "--color=no",
        "--grader-submission", str(submission), "--grader-json", str(results),
        "--grader-lang", lang,
    ]
    if basetemp is not None:
        args += ["--basetemp", str(basetemp)]
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    exercise_folder, submission, results = (Path(arg) for arg in argv[:3])
    lang = argv[3] if len(argv) > 3 else "auto"
    basetemp = Path(argv[4]) if len(argv) > 4 else None
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import pytest

    return int(pytest.main(pytest_args(exercise_folder, submission, results, lang, basetemp)))


if __name__ == "__main__":
    sys.exit(main())
