"""A Gradescope autograder bundle: ``setup.sh``, ``run_autograder`` and this kit.

Gradescope unpacks the bundle into ``/autograder/source``, runs ``setup.sh`` once when the
image is built, then ``run_autograder`` for every submission, which must leave
``/autograder/results/results.json``. Our ``--json`` output is that file's format. The
bundle carries the grader and only the one exercise's folder, so a submission is graded
exactly as ``grader check`` grades it here.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from . import __version__
from .catalogue import Exercise

PACKAGE = Path(__file__).resolve().parent

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-pip python3-venv \\
    nftables iproute2 util-linux
python3 -m venv /opt/tcp-grader
/opt/tcp-grader/bin/pip install /autograder/source/kit
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it must write results/results.json.
set -uo pipefail
mkdir -p /autograder/results
/opt/tcp-grader/bin/grader --exercises /autograder/source/kit/exercises \\
    check {exercise} /autograder/submission --json /autograder/results/results.json
status=$?
# 0: full marks, 1: points lost; both are grades. 2: not gradable, say so in the results.
if [ "$status" -ge 2 ] && [ ! -s /autograder/results/results.json ]; then
    printf '{{"score": 0, "output": "the submission could not be graded (status %s)"}}\\n' \\
        "$status" > /autograder/results/results.json
fi
exit 0
"""

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tcp-grader"
version = "{version}"
requires-python = ">=3.10"
dependencies = ["pytest>=7.2", "pexpect>=4.8", "tomli>=1.1; python_version < '3.11'"]

[project.scripts]
grader = "grader.cli:main"

[project.entry-points.pytest11]
grader = "grader.plugin"

[tool.setuptools.packages.find]
include = ["grader*"]

[tool.setuptools.package-data]
grader = ["*.ini"]
"""


def _add_tree(bundle: zipfile.ZipFile, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            bundle.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")


def _add_executable(bundle: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o100755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, text)


def build_bundle(exercise: Exercise, out: Path) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        _add_executable(bundle, "setup.sh", SETUP)
        _add_executable(bundle, "run_autograder", RUN.format(exercise=exercise.exercise_id))
        bundle.writestr("kit/pyproject.toml", PYPROJECT.format(version=__version__))
        _add_tree(bundle, PACKAGE, "kit/grader")
        _add_tree(bundle, exercise.folder, f"kit/exercises/{exercise.exercise_id}")
