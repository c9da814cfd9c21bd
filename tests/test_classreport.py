"""The class report a teacher reads (report.html), rendered in a real browser: headless
Chromium, with its inline script run. The pictures come first, the students' table sorts
and filters, each student's feedback opens from its link, and the page loads nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cases import EXERCISES, TOP

EXERCISE = EXERCISES["02-tcp-server"]
FAULTY = TOP / "tests" / "faulty" / "02-tcp-server"
ARTIFACTS = TOP / "build" / "artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """report.html of a real batch: a correct program, two faulty ones, an unchanged
    starter and a missing program."""
    work = tmp_path_factory.mktemp("class")
    submissions = {"alice": TOP / "reference" / "02-tcp-server",
                   "bob": FAULTY / "test_replies_thank_you",
                   "carol": FAULTY / "test_closes_with_fin",
                   "dave": EXERCISE.folder}
    for student, folder in submissions.items():
        (work / "class" / student).mkdir(parents=True)
        shutil.copy(folder / "server.py", work / "class" / student / "server.py")
    (work / "class" / "eve").mkdir()
    result = subprocess.run([sys.executable, "-m", "grader", "batch", "02-tcp-server",
                             str(work / "class"), "--out", str(work / "out"), "--runner",
                             "local", "-j", "2"], cwd=TOP, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    return work / "out" / "report.html"


def dom(chromium: str, page: Path, fragment: str, profile: Path) -> str:
    """The page's DOM after its script ran, opened at ``page#fragment``."""
    result = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                             "--dump-dom", f"{page.as_uri()}#{fragment}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "</html>" in result.stdout, result.stderr[-2000:]
    return result.stdout


def student_rows(html: str) -> list[tuple[str, bool]]:
    """(student, hidden) for each row of the students' table, in page order."""
    body = html.split('<table id="students">', 1)[1].split("</table>", 1)[0]
    return [(student, "hidden" in attributes)
            for attributes, student in re.findall(r'<tr data-student="[^"]*"([^>]*)><td><a '
                                                  r'href="#s-[^"]*">([^<]*)</a>', body)]


def test_the_pictures_come_first(chromium, report, tmp_path):
    html = dom(chromium, report, "", tmp_path / "profile")
    distribution = html.split('id="distribution"', 1)[1].split("</figure>", 1)[0]
    assert distribution.count('class="bar"') == int(EXERCISE.max_points()) + 1
    assert "1 students with 10 points" in distribution  # alice
    rates = html.split('id="pass-rates"', 1)[1].split("</figure>", 1)[0]
    assert rates.count('class="bar"') == len(EXERCISE.checks())
    assert html.index('id="distribution"') < html.index('id="students"')
    checks = html.split('<table id="checks">', 1)[1].split("</table>", 1)[0]
    thank_you = next(row for row in checks.split("<tr>") if "test_replies_thank_you" in row)
    assert "of " in thank_you and "thank you" in thank_you  # the most common observation


def test_the_students_filter_and_sort(chromium, report, tmp_path):
    everyone = student_rows(dom(chromium, report, "", tmp_path / "a"))
    assert sorted(student for student, _hidden in everyone) == \
        ["alice", "bob", "carol", "dave", "eve"]
    assert not any(hidden for _student, hidden in everyone)
    filtered = student_rows(dom(chromium, report, "filter=bob", tmp_path / "b"))
    assert [student for student, hidden in filtered if not hidden] == ["bob"]
    by_score = [student for student, _hidden in
                student_rows(dom(chromium, report, "sort=1", tmp_path / "c"))]
    assert by_score[-1] == "alice" and set(by_score[:2]) == {"dave", "eve"}


def test_a_students_feedback_is_one_click_away(chromium, report, tmp_path):
    html = dom(chromium, report, "s-bob", tmp_path / "profile")
    opened = re.findall(r'<details id="s-([^"]*)" open', html)
    assert opened == ["bob"]
    bob = html.split('<details id="s-bob"', 1)[1].split("</details>", 1)[0]
    assert "thank you !" in bob and "What the grader saw" in bob


def test_the_page_loads_nothing_and_a_screenshot_is_kept(chromium, report, tmp_path):
    page = report.read_text(encoding="utf-8")
    assert " src=" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "class-report.png"
    screenshot.unlink(missing_ok=True)
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={screenshot}", "--window-size=1280,1600", report.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failed_checks_connections_are_drawn_in_the_students_feedback(chromium, report,
                                                                         tmp_path):
    """One click on a student shows, under each failed check, its connections as a ladder
    (an SVG drawing of the captured segments), and the batch keeps their capture files."""
    from grader.session import capture
    opened = capture.start()
    if isinstance(opened, str):
        pytest.skip(f"no packet capture here ({opened}): the feedback has no ladder to draw")
    opened.close()
    html = dom(chromium, report, "s-bob", tmp_path / "profile")
    bob = html.split('<details id="s-bob"', 1)[1].split("</details>", 1)[0]
    assert '<figure class="ladder">' in bob and "<svg" in bob
    ladder = bob.split('<figure class="ladder">', 1)[1].split("</figure>", 1)[0]
    assert "three-way handshake 1/3: SYN" in ladder and "marker-end" in ladder
    assert "wire view, connection" not in bob  # drawn, not also printed as text
    pcaps = sorted((report.parent / "bob" / "pcap").glob("*.pcap"))
    assert pcaps and all(path.read_bytes()[:4] == b"\xd4\xc3\xb2\xa1" for path in pcaps)
