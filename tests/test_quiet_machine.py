"""The schedule's quiet machine, on real forked children and real programs: an ``alone``
check's measurement overlaps no other check, and the other alone checks waiting for their
turn have their programs stopped (a spinning program cannot take the CPU from the one
being measured). ``tests/test_schedule.py`` proves the consequence for verdicts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from grader.session import procinfo, schedule


class Item:
    """What the schedule needs of a check: something to hand to the child."""

    def __init__(self, name: str, alone: bool) -> None:
        self.name, self.alone = name, alone


def spinner() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run(items: list[Item], folder: Path, parallel: int) -> dict[str, dict]:
    """Each child records when it ran (and, alone, when its quiet part ran and the states of
    the other alone checks' programs then)."""
    received: dict[str, dict] = {}

    def in_child(item: Item) -> dict:
        began = time.monotonic()
        if not item.alone:
            time.sleep(0.4)
            return {"began": began, "ended": time.monotonic()}
        program = spinner()
        try:
            (folder / item.name).write_text(str(program.pid))
            time.sleep(0.2)
            asked = time.monotonic()
            schedule.quiet_machine(lambda: {program.pid})
            quiet = time.monotonic()
            others = {path.name: procinfo.state(int(path.read_text()))
                      for path in folder.iterdir() if path.name != item.name}
            time.sleep(0.3)
            return {"began": began, "asked": asked, "quiet": quiet,
                    "ended": time.monotonic(), "others": others}
        finally:
            program.kill()
            program.wait()

    schedule.run_side_by_side(items, lambda item: item.alone, in_child,
                              lambda item, value: received.__setitem__(item.name, value),
                              parallel)
    return received


def test_a_quiet_part_overlaps_no_other_check(tmp_path):
    items = [Item(f"other{number}", False) for number in range(6)]
    items += [Item(f"alone{number}", True) for number in range(3)]
    ran = run(items, tmp_path, parallel=20)
    assert set(ran) == {item.name for item in items}
    quiet = [(ran[name]["quiet"], ran[name]["ended"]) for name in ran if "quiet" in ran[name]]
    assert len(quiet) == 3
    for name, times in ran.items():
        # when it ran: an alone check, before it asked and once granted (waiting between)
        running = ([(times["began"], times["asked"]), (times["quiet"], times["ended"])]
                   if "quiet" in times else [(times["began"], times["ended"])])
        for start, end in quiet:
            for began, ended in running:
                if (began, ended) == (start, end):
                    continue
                assert not (began < end and start < ended), (name, times, (start, end))


def test_the_alone_checks_waiting_their_turn_have_their_programs_stopped(tmp_path):
    items = [Item(f"alone{number}", True) for number in range(3)]
    ran = run(items, tmp_path, parallel=20)
    first = min(ran.values(), key=lambda times: times["quiet"])
    # The first one granted sees the two others waiting: their spinners are stopped (T).
    assert sorted(first["others"].values()) == ["T", "T"], first
    # The last one granted finds the others' programs ended and its own running.
    last = max(ran.values(), key=lambda times: times["quiet"])
    assert all(state in (None, "X", "Z") for state in last["others"].values()), last


def test_one_after_another_each_alone_check_is_granted_in_turn(tmp_path):
    items = [Item("alone0", True), Item("other0", False), Item("alone1", True)]
    ran = run(items, tmp_path, parallel=1)
    assert set(ran) == {"alone0", "alone1", "other0"}
    # alone first, in their order; each one's wait saw no other program of theirs alive
    assert ran["alone0"]["ended"] <= ran["alone1"]["began"] <= ran["other0"]["began"]
    assert all(state in (None, "X", "Z") for state in ran["alone1"]["others"].values())
