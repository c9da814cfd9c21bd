"""The fixtures checks use. Each one cleans up after itself, whatever the check did.

- ``submission``: the scratch copy of the submission for this check; ``submission.program(name)``
  is the path of one program, or fails the check saying why it is missing.
- ``run_program(name, args=(), answers=(), network=None)``: starts a student program in a
  terminal and answers its ``input()`` questions; every process of it is killed when the
  check ends.
- ``peer_server(name)``: a grader-side listening socket on 127.0.0.1 (the program is the client).
- ``connect(port, timeout=5.0, name=None, network=None)``: a grader-side client connection.
- ``network``: a network of the grader's own where packets can be dropped (``netns``).
- ``default_port_network``: where the default port 7788 is surely free for this check.
- ``free_port``: a loopback port nothing uses, for a server under test.
- ``lang``: ``"en"`` or ``"zh"``, the language of the feedback, as the host chose it.

Every program and peer a fixture makes is kept as evidence (``evidence.keep``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from .. import wire
from ..submission import copy_submission, note_about
from . import capture, containment, evidence, peers, ports
from .netns import NetworkUnavailable, open_network
from .program import StudentProgram, kill_student_processes
from .verdict import fail, not_run


@pytest.fixture
def lang(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--grader-lang")


class Submission:
    """The scratch copy of the submission for one check."""

    def __init__(self, original: Path, scratch: Path, notes: list[str]) -> None:
        self.original = original
        self.folder = scratch
        self.notes = notes

    def program(self, name: str) -> Path:
        path = self.folder / name
        if path.is_file():
            return path
        note = note_about(self.notes, name)
        if note:
            fail(f"{name} could not be graded: {note}. This check could not run.",
                 f"{name} 无法评分：{note}。所以这一项无法运行。")
        fail(f"{name} was not found in your submission, so this check could not run. "
             f"Save your program as {name} in the exercise folder.",
             f"提交的文件夹里没有 {name}，所以这一项无法运行。请把程序保存为 {name}。")


@pytest.fixture
def submission(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Submission:
    original = Path(request.config.getoption("--grader-submission"))
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=_scratch_root(tmp_path_factory)))
    notes = _earlier_notes(request.config) + copy_submission(original, scratch)
    _hand_over(scratch)
    evidence.keep_notes(request.node, notes)
    return Submission(original, scratch, notes)


def _earlier_notes(config: pytest.Config) -> list[str]:
    """What an earlier copy (the docker runner's, on the host) left out: this session's own
    copy cannot see files that never reached it."""
    path = config.getoption("--grader-copy-notes")
    try:
        notes = json.loads(Path(path).read_text(encoding="utf-8")) if path else []
    except (OSError, ValueError):
        return []
    return [note for note in notes if isinstance(note, str)] if isinstance(notes, list) else []


def _scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each check's copy of the submission is made.

    Under a uid of the student's own, the keeper's folder for it (root's, outside every
    folder of the grader: the student's uid may enter it, not list it); in the docker
    runner's container, ``scratch`` in the session's temporary folder, which the student's
    uid may walk into (nothing else of the grader's is there: results and checks live
    elsewhere). As the grader's own user, the session's temporary folder, closed to others."""
    who = containment.student()
    given = os.environ.get(containment.SCRATCH_VARIABLE)
    if who is not None and given and Path(given).is_dir():
        return Path(given)
    root = tmp_path_factory.getbasetemp() / "scratch"
    root.mkdir(exist_ok=True)
    if who is not None:
        root.chmod(0o711)
        for parent in (root.parent, root.parent.parent):
            try:
                parent.chmod(parent.stat().st_mode | 0o001)  # the student's uid may walk in
            except OSError:
                pass
    return root


def _hand_over(scratch: Path) -> None:
    """The copy becomes the student's: its uid's (mode 0700) where the grader may give it
    away; writable by all in a container whose root may not (no CAP_CHOWN), where nobody but
    the student and the grader runs; the grader's own user's otherwise."""
    who = containment.student()
    if who is None:
        scratch.chmod(0o700)
        return
    try:
        os.chown(scratch, who.uid, who.gid)
        scratch.chmod(0o700)
    except PermissionError:
        scratch.chmod(0o777)


@pytest.fixture
def run_program(request: pytest.FixtureRequest, submission: Submission):
    started: list[StudentProgram] = []

    def start(name: str, args: tuple | list = (), answers: tuple | list = (),
              network=None) -> StudentProgram:
        program = StudentProgram(submission.program(name), args=list(args),
                                 answers=list(answers), workdir=submission.folder,
                                 launcher=network.launcher() if network else None).start()
        started.append(program)
        evidence.keep(request.node, program)
        return program

    yield start
    # First every process this check's programs started, however they detached (a fork bomb
    # still running); then each run, reaped, its terminal closed.
    kill_student_processes()
    for program in started:
        program.kill_tree()


@pytest.fixture
def peer_server(request: pytest.FixtureRequest):
    servers: list[peers.PeerServer] = []

    def make(name: str = "connection") -> peers.PeerServer:
        server = peers.PeerServer(log_name=name)
        capture.watch(server.port, wire.GRADER)
        servers.append(server)
        evidence.keep(request.node, server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def connect(request: pytest.FixtureRequest):
    connections: list[peers.PeerConnection] = []

    def make(port: int, timeout: float = 5.0, name: str | None = None, network=None
             ) -> peers.PeerConnection | None:
        capture.watch(port, wire.PROGRAM)
        connection = peers.connect(port, timeout,
                                   log_name=name or f"client {len(connections) + 1}",
                                   make_socket=network.socket if network else None)
        if connection is not None:
            connections.append(connection)
            evidence.keep(request.node, connection)
        return connection

    yield make
    for connection in connections:
        connection.close()


@pytest.fixture
def network():
    """Where none can be made, the check is reported as not run."""
    try:
        isolated = open_network()
    except NetworkUnavailable as error:
        not_run(f"not run: this check needs a network where the grader can drop packets, and "
                f"none could be made here ({error}). Grade with --runner docker to run it.",
                f"未运行：这一项需要一个评分程序可以丢弃数据包的网络，但这里无法创建（{error}）。"
                f"请用 --runner docker 评分以运行它。")
    capture.also_in(isolated)
    yield isolated
    isolated.close()


@pytest.fixture
def default_port_network():
    """Where a server's default port (``ports.DEFAULT_PORT``) is surely free for this check:
    the grader's own network namespace where one can be made (yielded), else this machine's
    loopback (``None``), the port held for the check by a machine-wide lock. Ask for it
    first among a check's fixtures, so that it is released after the program is gone."""
    try:
        isolated = open_network()
    except NetworkUnavailable:
        with ports.holding_default_port() as free:
            if not free:
                not_run(f"not run: port {ports.DEFAULT_PORT} stayed in use by another program "
                        f"on this machine, so the default port could not be tried",
                        f"未运行：本机端口 {ports.DEFAULT_PORT} 一直被其他程序占用，无法检查默认端口")
            yield None
        return
    capture.also_in(isolated)
    yield isolated
    isolated.close()


@pytest.fixture
def free_port() -> int:
    """A port that is free on all IPv4 interfaces and has no rows in the socket table."""
    port = ports.unused_port()
    capture.watch(port)  # whose: the program's if the grader connects to it, else nobody's
    return port
