"""The catalogue: exercises and their checks, read from the folders without running them."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest

from cases import EXERCISES, TOP

from grader.catalogue import CatalogueError, CheckInfo, get_exercise, load_exercise

# A fresh interpreter whose first reads of the checks are made by 8 threads at once, while
# the collector runs finalisers that let other threads in (as it runs those of a failed
# engine call's sockets in a batch).
MANY_THREADS_AT_FIRST_READ = textwrap.dedent("""
    import sys
    import time
    from concurrent.futures import ThreadPoolExecutor
    sys.path.insert(0, "tests")
    from cases import EXERCISES

    class FinalisedGarbage:
        def __init__(self):
            self.cycle = self
        def __del__(self):
            time.sleep(0)

    def read(exercise):
        for _ in range(200):
            FinalisedGarbage()
        return exercise.exercise_id, [check.check_id for check in exercise.checks()]

    exercises = list(EXERCISES.values()) * 10
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = dict(pool.map(read, exercises))
    print(sum(len(checks) for checks in found.values()))
""")

def test_checks_are_read_from_many_threads_at_once():
    # CPython 3.11's ast.parse is not thread-safe ("SystemError: AST constructor recursion
    # depth mismatch"). In a batch it once cost a student's result.
    # The race is at the interpreter's first reads, and is lost in about half the runs.
    for _run in range(8):
        result = subprocess.run([sys.executable, "-c", MANY_THREADS_AT_FIRST_READ], cwd=TOP,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.split() == [str(sum(len(exercise.checks())
                                                  for exercise in EXERCISES.values()))]


def test_every_starter_digest_is_the_starter_handed_out():
    # A starter edited without its digest would be graded as "started" while unchanged
    # (or a student's unchanged file graded for nothing): the manifest must follow the file.
    for exercise in EXERCISES.values():
        for program in exercise.programs:
            digest = hashlib.sha256((exercise.folder / program).read_bytes()).hexdigest()
            assert exercise.starter_digest(program) == digest, (
                f"{exercise.exercise_id}/exercise.toml: [starters] {program!r} is not the "
                f"sha256 of {program} ({digest})")


def test_a_check_is_found_by_its_number(tmp_path):
    root = TOP / "exercises"
    assert get_exercise(root, "03").exercise_id == "03-echo-server"
    with pytest.raises(CatalogueError):
        get_exercise(root, "echo")


def exercise_with_check(tmp_path, marker: str, body: str = "pass"):
    """A one-check exercise whose check carries ``marker`` (the text of the decorator)."""
    folder = tmp_path / "99-made-up"
    (folder / "checks").mkdir(parents=True)
    (folder / "exercise.toml").write_text('title = "Made up"\nprograms = ["p.py"]\n')
    (folder / "checks" / "test_made_up.py").write_text(
        f"import pytest\n\n\n{marker}\ndef test_something():\n    {body}\n")
    return load_exercise(folder)


@pytest.mark.parametrize("marker, complaint", [
    ('@pytest.mark.check(point=2, title="x")', "unknown key 'point'"),
    ('@pytest.mark.check(points=1 + 1, title="x")', "must be a literal"),
    ('@pytest.mark.check(points=POINTS, title="x")', "must be a literal"),
    ('@pytest.mark.check(2, title="x")', "keyword arguments only"),
    ('@pytest.mark.check(points="2", title="x")', "'points' must be int or float"),
    ('@pytest.mark.check(points=0, title="x")', "more than 0"),
    ('@pytest.mark.check', "keyword arguments only"),
])
def test_a_marker_the_catalogue_cannot_trust_is_an_error_naming_file_and_line(
        tmp_path, marker, complaint):
    exercise = exercise_with_check(tmp_path, marker)
    with pytest.raises(CatalogueError) as raised:
        exercise.checks()
    message = str(raised.value)
    assert complaint in message
    assert f"{exercise.folder / 'checks' / 'test_made_up.py'}:4: test_something" in message


def test_a_valid_marker_gives_its_values(tmp_path):
    exercise = exercise_with_check(
        tmp_path, '@pytest.mark.check(points=2, title="T", title_zh="题", lesson="4.3", '
                  'program="p.py")')
    assert exercise.checks() == [CheckInfo("test_something", "T", 2.0, "4.3", "p.py", "题")]


def test_a_check_that_asks_for_a_quiet_machine_must_be_marked_alone(tmp_path):
    exercise = exercise_with_check(tmp_path, '@pytest.mark.check(points=1, title="x")',
                                   body="quiet_machine()")
    with pytest.raises(CatalogueError) as raised:
        exercise.checks()
    assert "calls quiet_machine() but its @pytest.mark.check does not say alone=True" in str(
        raised.value)
    assert f"{exercise.folder / 'checks' / 'test_made_up.py'}:4: test_something" in str(
        raised.value)


@pytest.mark.parametrize("body, asks", [("pass", False), ("steps.quiet_machine()", True)])
def test_an_alone_check_says_whether_it_asks_where_its_measurement_starts(tmp_path, body, asks):
    exercise = exercise_with_check(tmp_path, '@pytest.mark.check(points=1, title="x", '
                                             'alone=True)', body=body)
    [info] = exercise.checks()
    assert info.alone and info.asks_quiet is asks


@pytest.mark.parametrize("value", ['"7"', "-1", "true"])
def test_grading_seconds_that_are_not_seconds_are_an_error(tmp_path, value):
    folder = tmp_path / "09-something"
    folder.mkdir()
    (folder / "exercise.toml").write_text(f'title = "x"\ngrading_seconds = {value}\n')
    with pytest.raises(CatalogueError, match="grading_seconds"):
        load_exercise(folder)


def test_every_exercise_of_the_project_says_how_long_it_takes():
    # The kit starts the longest first: an exercise without the figure would start last.
    assert all(exercise.grading_seconds > 0 for exercise in EXERCISES.values())
