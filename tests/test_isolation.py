"""Nothing from a submission reaches the grader's process or pytest's configuration."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from cases import EXERCISES, TOP
from grader.host.runners import GradeRequest, get_runner

HOSTILE_FILES = {
    "conftest.py": "import pytest\n{marker}\n"
                   "def pytest_collection_modifyitems(items):\n    items.clear()\n",
    "sitecustomize.py": "{marker}\n",
    "pytest.ini": "[pytest]\naddopts = --no-such-option -p no:grader\n",
    "setup.cfg": "[tool:pytest]\naddopts = --no-such-option\n",
    "tox.ini": "[pytest]\naddopts = --no-such-option\n",
}
@pytest.fixture
def markers():
    """Where every process that imports a planted module leaves a mark. Outside pytest's
    tmp_path (root only, when the tests run as root), so that the student's own uid, under
    which the local runner runs programs as root, can write there too."""
    folder = Path(tempfile.mkdtemp(prefix="grader-markers-", dir="/tmp"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


MARKER = ("import os, sys\n"
          "open(os.path.join({folder!r}, 'imported-by-%d' % os.getpid()), 'w')"
          ".write(' '.join(sys.argv))")


def test_submitted_pytest_files_have_no_effect(tmp_path, markers):
    submission = tmp_path / "submission"
    shutil.copytree(TOP / "reference" / "01-tcp-client", submission)
    for name, text in HOSTILE_FILES.items():
        (submission / name).write_text(text.format(marker=MARKER.format(folder=str(markers))))
    document = get_runner("local").grade(GradeRequest(EXERCISES["01-tcp-client"], submission, "en", 120))
    assert document["score"] == document["max_score"] == EXERCISES["01-tcp-client"].max_points()
    assert list(markers.iterdir()) == []


def test_a_submitted_socket_module_never_reaches_the_grader(tmp_path, markers):
    submission = tmp_path / "submission"
    shutil.copytree(TOP / "reference" / "02-tcp-server", submission)
    (submission / "socket.py").write_text(MARKER.format(folder=str(markers))
                                          + "\nraise SystemExit('fake socket module')\n")
    document = get_runner("local").grade(GradeRequest(EXERCISES["02-tcp-server"], submission, "en", 120))
    importers = [path.read_text() for path in markers.iterdir()]
    # The student's own program imports its own socket.py (its problem, and it loses points);
    # no grader process ever does.
    assert importers and all(text.split()[-1].isdigit() or "server.py" in text
                             for text in importers)
    assert document["score"] < document["max_score"]
    assert len(document["tests"]) == len(EXERCISES["02-tcp-server"].checks())
