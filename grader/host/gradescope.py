"""A Gradescope autograder bundle: ``setup.sh``, ``run_autograder``, this kit and its wheels.

Gradescope unpacks the bundle into ``/autograder/source``, runs ``setup.sh`` once, as root,
when it builds the autograder image, then ``run_autograder`` for every submission, as root,
which must leave ``/autograder/results/results.json``. Our ``--json`` output is that file's
format. The bundle carries the grader and only the one exercise's folder, so a submission is
graded exactly as ``grader check`` grades it here.

Self-contained and reproducible: ``wheels/`` holds every Python package setup.sh installs
(the grader, built here into a wheel, and each of its dependencies, downloaded with
``pip download`` at the versions this environment has, from PyPI or from ``wheelhouse``),
with their hashes in ``wheels/requirements.txt``; setup.sh installs from that folder only
(``pip install --no-index --require-hashes``), with pip run from its own wheel. From the
distribution it needs python3 (3.10 or later) with its ``venv`` module and ``useradd``. Every
file is written with a fixed date and mode, so the same grader and environment give the same
bytes.

Contained: setup.sh makes the user ``tcp-grader-student``, and run_autograder grades with
``GRADER_STUDENT_UID`` set to it, so that the student's programs run under that uid
(``grader.session.containment``), closes ``/autograder`` (the bundle, the submission) and
the grader's install to it, writes the grade only once no process of that uid is left,
and puts results.json in place as its very last step.

Rule: this module writes the bundle; it grades nothing and never runs student code.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..catalogue import Exercise

PACKAGE = Path(__file__).resolve().parent.parent  # the whole grader package
DISTRIBUTION = "tcp-grader"
STUDENT_USER = "tcp-grader-student"
VENV = "/opt/tcp-grader"
# Pythons and machines the bundle's wheels must cover: Gradescope's images are Ubuntu on
# x86_64; a dependency without a pure-Python wheel gets one wheel for each of these.
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
MACHINES = ("x86_64", "aarch64")
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: the bytes do not depend on when

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# Every Python package comes from wheels/ in this bundle (no package index is asked); the
# distribution provides python3 >= 3.10 with its venv module (apt-get only if it is
# missing) and useradd.
set -euo pipefail
SOURCE=$(cd "$(dirname "$0")" && pwd)
if ! python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv
fi
rm -rf {venv}
python3 -m venv --without-pip {venv}
{venv}/bin/python3 "$SOURCE/wheels/{pip_wheel}/pip" install --no-index \\
    --find-links "$SOURCE/wheels" --require-hashes -r "$SOURCE/wheels/requirements.txt" \\
    --no-cache-dir --disable-pip-version-check --root-user-action=ignore --quiet
# The student's programs run as this user: no home, no shell, no password, no capabilities.
if ! id -u {user} >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \\
        --shell /usr/sbin/nologin {user}
fi
# Root only: the grader, the checks and this bundle are none of the student's business.
chmod 0700 {venv} "$SOURCE"
GRADER_STUDENT_UID=$(id -u {user}) {venv}/bin/python3 -I -m grader.session.containment describe
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission, as root; it must leave results/results.json.
set -uo pipefail
RESULTS=/autograder/results
student=$(id -u {user})
# The submission is graded from copies: nothing under /autograder (this bundle, the
# submission, Gradescope's metadata, the results) is open to the student's uid.
chmod 0700 /autograder
mkdir -p "$RESULTS"
chown root:root "$RESULTS"
chmod 0755 "$RESULTS"
rm -f "$RESULTS/results.json" "$RESULTS/grading.json"
GRADER_STUDENT_UID=$student {venv}/bin/grader --exercises /autograder/source/kit/exercises \\
    check {exercise} /autograder/submission --json "$RESULTS/grading.json"
status=$?
# The grader returned once its keeper had killed every process of the submission; make sure
# that nothing runs under the student's uid before the grade is put in place.
if ! {venv}/bin/python3 -I -m grader.session.containment sweep-uid "$student"; then
    echo "run_autograder: processes of $student could not be killed" >&2
fi
# 0: full marks, 1: points lost; both are grades. 2: not gradable, say so in the results.
if [ "$status" -ge 2 ] && [ ! -s "$RESULTS/grading.json" ]; then
    printf '{{"score": 0, "output": "the submission could not be graded (status %s)"}}\\n' \\
        "$status" > "$RESULTS/grading.json"
fi
mv -f "$RESULTS/grading.json" "$RESULTS/results.json"
exit 0
"""

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
requires-python = "{requires_python}"
dependencies = [{dependencies}]

[project.scripts]
{scripts}

[project.entry-points.pytest11]
{plugins}

[tool.setuptools.packages.find]
include = ["grader*"]

[tool.setuptools.package-data]
grader = ["session/*.ini", "host/templates/*", "host/templates/*/*"]
"""


class BundleError(Exception):
    """The bundle cannot be made (a wheel cannot be had); the message says which."""


@dataclass(frozen=True)
class Project:
    """What the grader's own distribution declares (pyproject.toml, or the installed metadata)."""

    name: str
    version: str
    requires_python: str
    dependencies: list[str]
    scripts: dict[str, str]
    plugins: dict[str, str]


def project() -> Project:
    """The grader's declaration: the checkout's pyproject.toml when the package runs from one,
    else the metadata of the installed distribution."""
    pyproject = PACKAGE.parent / "pyproject.toml"
    if pyproject.is_file():
        import tomllib
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        declared = data.get("project", {})
        if declared.get("name") == DISTRIBUTION:
            return Project(declared["name"], declared["version"],
                           declared.get("requires-python", ">=3.10"),
                           list(declared.get("dependencies", [])),
                           dict(declared.get("scripts", {})),
                           dict(declared.get("entry-points", {}).get("pytest11", {})))
    from importlib import metadata
    installed = metadata.distribution(DISTRIBUTION)
    points = installed.entry_points
    return Project(DISTRIBUTION, installed.version,
                   installed.metadata.get("Requires-Python") or ">=3.10",
                   [requirement for requirement in installed.requires or []
                    if "extra ==" not in requirement],
                   {point.name: point.value for point in points
                    if point.group == "console_scripts"},
                   {point.name: point.value for point in points if point.group == "pytest11"})


# -- the grader's own wheel, written here -----------------------------------------------------

def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _package_files() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts
                  and path.suffix not in (".pyc", ".pyo"))


def grader_wheel(folder: Path, declared: Project) -> Path:
    """The grader as a wheel (pure Python), written directly: the same files make the same
    bytes, and no build backend or index is needed."""
    name = declared.name.replace("-", "_")
    info = f"{name}-{declared.version}.dist-info"
    entries: list[tuple[str, bytes]] = [
        (f"grader/{path.relative_to(PACKAGE).as_posix()}", path.read_bytes())
        for path in _package_files()]
    metadata = ["Metadata-Version: 2.1", f"Name: {declared.name}",
                f"Version: {declared.version}", f"Requires-Python: {declared.requires_python}",
                *[f"Requires-Dist: {requirement}" for requirement in declared.dependencies]]
    points = ["[console_scripts]", *[f"{key} = {value}" for key, value in declared.scripts.items()],
              "", "[pytest11]", *[f"{key} = {value}" for key, value in declared.plugins.items()],
              ""]
    entries += [(f"{info}/METADATA", ("\n".join(metadata) + "\n").encode()),
                (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: tcp-grader gradescope\n"
                                  b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
                (f"{info}/entry_points.txt", "\n".join(points).encode()),
                (f"{info}/top_level.txt", b"grader\n")]
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in entries)
    entries.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    wheel = folder / f"{name}-{declared.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries:
            _write(archive, path, data, 0o644)
    return wheel


# -- the dependencies, downloaded -------------------------------------------------------------

def _environments() -> list[dict[str, str]]:
    """Every environment the bundle may be installed in, as marker variables."""
    return [{"python_version": version, "python_full_version": f"{version}.0",
             "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
             "platform_machine": machine, "implementation_name": "cpython",
             "platform_python_implementation": "CPython", "extra": ""}
            for version in PYTHONS for machine in MACHINES]


def _pinned(requirement) -> str:
    """``name==version``: the version this environment has, if it fits the requirement,
    else the requirement itself (pip picks the newest that fits every Python above)."""
    from importlib import metadata
    try:
        version = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        version = None
    if version is not None and requirement.specifier.contains(version, prereleases=True):
        return f"{requirement.name}=={version}"
    return f"{requirement.name}{requirement.specifier}"


def _pip_download(specs: list[str], folder: Path, tags: list[str], wheelhouse: Path | None
                  ) -> bool:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--disable-pip-version-check", "--dest", str(folder),
               *tags, *specs]
    if wheelhouse is not None:
        command[4:4] = ["--no-index", "--find-links", str(wheelhouse)]
    return subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=600).returncode == 0


def _download(specs: list[str], folder: Path, wheelhouse: Path | None) -> None:
    """For each of ``specs``, the wheel every Python above can install (a pure-Python one),
    else one per Python and machine."""
    pure = ["--platform", "any", "--implementation", "py", "--abi", "none",
            "--python-version", PYTHONS[0]]
    if not specs or _pip_download(specs, folder, pure, wheelhouse):
        return  # all at once: the usual case, one call to pip
    for spec in specs:
        if _pip_download([spec], folder, pure, wheelhouse):
            continue
        for version in PYTHONS:
            abi = f"cp{version.replace('.', '')}"
            for machine in MACHINES:
                platforms = [f"manylinux2014_{machine}", f"manylinux_2_17_{machine}",
                             f"manylinux_2_28_{machine}"]
                tags = [item for platform in platforms for item in ("--platform", platform)]
                if not _pip_download([spec], folder, [*tags, "--implementation", "cp", "--abi",
                                                      abi, "--abi", "abi3", "--abi", "none",
                                                      "--python-version", version], wheelhouse):
                    raise BundleError(f"no wheel of {spec} for Python {version} on {machine}")


def _requirements_of(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(item for item in archive.namelist()
                    if item.endswith(".dist-info/METADATA") and item.count("/") == 1)
        text = archive.read(name).decode("utf-8", "replace")
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("Requires-Dist:")]


def _wheel_of(folder: Path, name: str) -> Path:
    from packaging.utils import canonicalize_name
    for wheel in sorted(folder.glob("*.whl")):
        if canonicalize_name(wheel.name.split("-")[0]) == name:
            return wheel
    raise BundleError(f"pip downloaded no wheel of {name}")


def collect_wheels(folder: Path, wheelhouse: Path | None = None) -> list[Path]:
    """Every wheel setup.sh installs, into ``folder``: the grader's, its dependencies' (all the
    way down, for every Python and machine above), and pip's own (to install them with).
    ``wheelhouse``: take them from that folder instead of PyPI (offline)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    declared = project()
    folder.mkdir(parents=True, exist_ok=True)
    grader_wheel(folder, declared)
    environments = _environments()
    level, done = list(declared.dependencies) + ["pip"], set()
    while level:  # breadth first: one download per level of the dependency tree
        wanted = {}
        for text in level:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            if name in done or name in wanted or (requirement.marker is not None and not any(
                    requirement.marker.evaluate(environment) for environment in environments)):
                continue
            wanted[name] = requirement
        done |= set(wanted)
        _download([_pinned(requirement) for requirement in wanted.values()], folder, wheelhouse)
        level = []
        for name in sorted(wanted):
            if name != "pip":
                level += [item for item in _requirements_of(_wheel_of(folder, name))
                          if "extra ==" not in item]
    return sorted(folder.glob("*.whl"))


def _hash_file(wheels: list[Path]) -> str:
    """``wheels/requirements.txt``: every wheel but pip's, pinned, with its hash."""
    hashes: dict[str, list[str]] = {}
    for wheel in wheels:
        name, version = wheel.name.split("-")[:2]
        if name.lower() != "pip":
            hashes.setdefault(f"{name}=={version}", []).append(
                hashlib.sha256(wheel.read_bytes()).hexdigest())
    return "".join(f"{pin} " + " ".join(f"--hash=sha256:{digest}" for digest in sorted(digests))
                   + "\n" for pin, digests in sorted(hashes.items()))


# -- the bundle -------------------------------------------------------------------------------

def _write(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, FIXED_DATE)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _add_tree(bundle: zipfile.ZipFile, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts \
                and path.suffix not in (".pyc", ".pyo"):
            _write(bundle, f"{prefix}/{path.relative_to(folder).as_posix()}",
                   path.read_bytes(), 0o644)


def _pyproject(declared: Project) -> str:
    return PYPROJECT.format(
        name=declared.name, version=declared.version, requires_python=declared.requires_python,
        dependencies=", ".join(f'"{item}"' for item in declared.dependencies),
        scripts="\n".join(f'{key} = "{value}"' for key, value in declared.scripts.items()),
        plugins="\n".join(f'{key} = "{value}"' for key, value in declared.plugins.items()))


def build_bundle(exercise: Exercise, out: Path, wheelhouse: Path | None = None) -> None:
    """Write the bundle for ``exercise`` to ``out``. ``wheelhouse`` (or $GRADER_WHEELHOUSE):
    a folder to take every dependency's wheel from instead of PyPI."""
    if wheelhouse is None and os.environ.get("GRADER_WHEELHOUSE"):
        wheelhouse = Path(os.environ["GRADER_WHEELHOUSE"])
    declared = project()
    with tempfile.TemporaryDirectory(prefix="tcp-grader-wheels-") as temporary:
        wheels = collect_wheels(Path(temporary), wheelhouse)
        pip_wheel = next((wheel.name for wheel in wheels if wheel.name.startswith("pip-")), None)
        if pip_wheel is None:
            raise BundleError("no wheel of pip to install the others with")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            _write(bundle, "setup.sh", SETUP.format(venv=VENV, pip_wheel=pip_wheel,
                                                    user=STUDENT_USER).encode(), 0o755)
            _write(bundle, "run_autograder", RUN.format(
                venv=VENV, user=STUDENT_USER, exercise=exercise.exercise_id).encode(), 0o755)
            _write(bundle, "kit/pyproject.toml", _pyproject(declared).encode(), 0o644)
            _add_tree(bundle, PACKAGE, "kit/grader")
            _add_tree(bundle, exercise.folder, f"kit/exercises/{exercise.exercise_id}")
            for wheel in wheels:
                _write(bundle, f"wheels/{wheel.name}", wheel.read_bytes(), 0o644)
            _write(bundle, "wheels/requirements.txt", _hash_file(wheels).encode(), 0o644)
    Path(out).write_bytes(buffer.getvalue())
