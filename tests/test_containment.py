"""Containment: no submission outlives its grade or forges it, on every runner and in the
Gradescope bundle. Real processes, a real Docker engine, no mocks.

- The local runner, as root and as an ordinary user: submissions whose processes detach in
  every way we know (fork, setsid, fork and re-exec with an empty environment; the same under
  a kernel thread's name, re-executed twice and deaf to SIGTERM; a fork loop whose pid never
  stays the same) leave nothing behind, check by check (each run reports any process of an
  earlier check still alive), and the student's uid is never root.
- A grading session killed outright, and a grader killed outright, leave nothing either.
- Gradescope: the bundle, unpacked into a root container of the project's base image with
  ``--network none``, installs with its setup.sh from its own wheels, grades the reference
  (01-tcp-client) with full marks; a submission that forges results.json (also from a detached daemon after
  run_autograder returns), edits the grader's installed files or runs another submission
  gets the score of a program that does nothing and leaves no process.

Every process a test submission starts writes ``<pid>`` = ``<start time> <uid> <kind>`` to a
records folder: that is how the tests know them, whatever they later call themselves.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from cases import EXERCISES, TOP
from grader.host import gradescope
from grader.host.runners import GradeRequest, get_runner
from grader.session import containment
from grader.session.waiting import wait_until

SERVER = EXERCISES["02-tcp-server"]
ECHO = EXERCISES["03-echo-server"]
# Graded in the Gradescope container: its checks need no network of the grader's own (which
# Docker's default seccomp profile refuses to make there), and its program answers input()
# questions, which the grader sees only by reading the program's /proc as its uid.
CLIENT = EXERCISES["01-tcp-client"]
KINDS = ("reexec", "disguised", "forker")
BASE_IMAGE = os.environ.get("GRADER_BASE_IMAGE", "tcp-grader-base:bookworm")
GRADESCOPE_HOSTILE = TOP / "tests" / "hostile" / "gradescope"

# The daemon of a test submission. Started with an empty environment, it records itself;
# "disguised" and "forker" ignore the polite signals; "disguised" re-executes itself under
# another name; "forker" forks on and on, each parent exiting (its pid never stays the same),
# every fifth one staying, asleep.
DAEMON = r'''
import os, signal, sys, time
RECORDS, KIND = sys.argv[1], sys.argv[2]


def record():
    start = open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]
    cgroup = ([line[3:].strip() for line in open("/proc/self/cgroup") if line.startswith("0::")]
              or ["-"])[0]
    with open(os.path.join(RECORDS, str(os.getpid())), "w") as out:
        out.write(f"{start} {os.getuid()} {KIND} {cgroup}")


if KIND != "reexec":
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
if KIND == "disguised" and sys.argv[3:] != ["again"]:
    with open("/proc/self/comm", "w") as comm:
        comm.write("kworker/0:2")
    # (its argv[0] is no path: the interpreter is found through /proc/self/exe)
    os.execve(os.readlink("/proc/self/exe"), ["[kworker/0:2-events]", os.path.abspath(__file__),
                                              RECORDS, KIND, "again"], {})
record()
generation = 0
while KIND == "forker":
    time.sleep(0.02)
    generation += 1
    if os.fork() != 0:
        if generation % 5:
            os._exit(0)
        break
    record()
while True:
    time.sleep(1)
'''

# The program graded (server.py): it reports any recorded process still alive (with one check
# at a time, one of an earlier check: containment failed), detaches its daemon, waits until
# the daemon has recorded itself, says so, and exits (HOLD: stays, the session still busy).
STARTER = r'''
import os, sys, time
RECORDS, KIND, HOLD = {records!r}, {kind!r}, {hold!r}


def alive(name):
    try:
        start = open(f"/proc/{{name}}/stat").read().rsplit(")", 1)[1].split()[19]
        return start == open(os.path.join(RECORDS, name)).read().split()[0]
    except (OSError, IndexError):
        return False


left = [name for name in os.listdir(RECORDS) if alive(name)]
print(f"SURVIVOR {{left}}" if left else "no survivor", flush=True)
before = set(os.listdir(RECORDS))
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        daemon = os.path.abspath("daemon.py")
        os.chdir("/")
        name = sys.executable if KIND == "reexec" else "[kworker/1:0]"
        os.execve(sys.executable, [name, daemon, RECORDS, KIND], {{}})
    os._exit(0)
os.wait()
want = 3 if KIND == "forker" else 1
end = time.monotonic() + 10
while time.monotonic() < end and len(set(os.listdir(RECORDS)) - before) < want:
    time.sleep(0.02)
print(f"daemon started: {{len(set(os.listdir(RECORDS)) - before)}} recorded", flush=True)
if HOLD:
    time.sleep(120)
'''


# -- helpers ----------------------------------------------------------------------------------

def shared_folder(prefix: str, mode: int = 0o755) -> Path:
    """A folder in /tmp that other uids may reach (pytest's tmp_path is root's, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(mode)
    return folder


def detached_submission(folder: Path, records: Path, kind: str, hold: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.py").write_text(STARTER.format(records=str(records), kind=kind, hold=hold))
    (folder / "daemon.py").write_text(textwrap.dedent(DAEMON))
    for path in (folder, *folder.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def recorded(records: Path) -> dict[int, tuple[int, int, str, str]]:
    """pid -> (start time, uid, kind, cgroup) of every process the submission recorded."""
    found = {}
    for path in records.iterdir():
        fields = path.read_text().split()
        if len(fields) == 4:
            found[int(path.name)] = (int(fields[0]), int(fields[1]), fields[2], fields[3])
    return found


def still_running(records: Path) -> list[int]:
    """The recorded processes that still exist (same pid, same start time), zombies aside."""
    running = []
    for pid, (start, *_rest) in recorded(records).items():
        proc = containment._proc(pid)
        if proc is not None and proc.start == start and proc.state not in ("Z", "X"):
            running.append(pid)
    return running


def outputs(document: dict) -> str:
    return "\n".join(test["output"] for test in document["tests"])


def assert_contained(document: dict, records: Path, kind: str, one_at_a_time: bool,
                     in_cgroups: bool = False) -> set[int]:
    """The attack ran, nothing of it is left; the uids its processes ran under."""
    text = outputs(document)
    assert "daemon started: 0 recorded" not in text
    assert "daemon started:" in text, text[:2000]
    if one_at_a_time:  # every check after the first looked for survivors of the earlier ones
        assert "SURVIVOR" not in text, text[:2000]
        assert "no survivor" in text
    found = recorded(records)
    assert len(found) >= (3 if kind == "forker" else 1)
    assert {entry[2] for entry in found.values()} == {kind}
    assert still_running(records) == [], "processes of the submission outlived its grade"
    if in_cgroups:  # each in its check's cgroup, in its session's
        assert all(re.fullmatch(r"/(.+/)?tcp-grader-[0-9a-f-]+/check-\d+", entry[3])
                   for entry in found.values()), found
    return {entry[1] for entry in found.values()}


def cgroups_here() -> bool:
    """Whether this user may make cgroups here (the keeper then gives every check one)."""
    probe = containment.make_cgroup(containment.own_cgroup(), f"tcp-grader-probe-{os.getpid()}")
    if probe is not None:
        containment.remove_cgroup(probe)
    return probe is not None


def free_uid(start: int) -> int:
    """A uid with no user, no group and no process (for the ordinary user of the test)."""
    for uid in range(start, start + 1000):
        try:
            pwd.getpwuid(uid)
            continue
        except KeyError:
            pass
        if not containment.processes_of_uid(uid):
            return uid
    raise AssertionError("no free uid")


def assert_uid_empty_unless_leased(uid: int) -> None:
    """No process runs under ``uid``, unless another session has leased it since (root)."""
    path = containment.LEASES / f"uid-{uid}"
    if not path.exists():
        assert not containment.processes_of_uid(uid)
        return
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another grading leases it now (other work shares this machine)
    try:
        assert not containment.processes_of_uid(uid), f"processes of uid {uid} are left"
    finally:
        os.close(fd)


# -- the local runner, as root (or as whoever runs the tests) ---------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_detached_processes_die_with_their_check(kind, tmp_path):
    records = shared_folder("tcp-grader-records-", 0o1777)
    try:
        submission = detached_submission(tmp_path / kind, records, kind)
        document = get_runner("local").grade(GradeRequest(SERVER, submission, "en", 120,
                                                          parallel=1))
        assert len(document["tests"]) == len(SERVER.checks())
        uids = assert_contained(document, records, kind, one_at_a_time=True,
                                in_cgroups=cgroups_here())
        if os.geteuid() == 0:  # a uid of the student's own, never root, never a person's
            assert len(uids) == 1 and 0 not in uids
            (uid,) = uids
            with pytest.raises(KeyError):
                pwd.getpwuid(uid)
            assert_uid_empty_unless_leased(uid)
        else:
            assert uids == {os.getuid()}
    finally:
        shutil.rmtree(records, ignore_errors=True)


def test_the_reference_scores_as_before_under_a_student_uid():
    document = get_runner("local").grade(GradeRequest(ECHO, TOP / "reference" / ECHO.exercise_id,
                                                      "en", 120))
    assert document["score"] == document["max_score"], outputs(document)[:3000]


# -- the local runner, as an ordinary user ----------------------------------------------------

@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """The wheels the Gradescope bundle carries (downloaded once, with pip, from PyPI)."""
    folder = tmp_path_factory.mktemp("wheels")
    started = time.monotonic()
    gradescope.collect_wheels(folder)
    print(f"wheels collected in {time.monotonic() - started:.1f} s")
    return folder


@pytest.fixture(scope="session")
def ordinary_user(wheelhouse):
    """Run Python as an ordinary user: a uid with no user, group or process, and a virtual
    environment that uid can run, made from the bundle's wheels exactly as its setup.sh does
    (this machine's own Python may live where that uid cannot reach, e.g. under /root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user (the other tests run as this user)")
    uid = free_uid(2_100_000_000)
    who = containment.Student(uid, uid)
    shared = shared_folder("tcp-grader-user-")
    interpreter = next((candidate for candidate in (os.path.realpath(sys.executable),
                                                    "/usr/bin/python3")
                        if containment.usable_by(candidate, who)), None)
    if interpreter is None:
        pytest.fail("no Python on this machine that an ordinary user may run")
    venv = shared / "venv"
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = next(wheelhouse.glob("pip-*.whl"))
    requirements = shared / "requirements.txt"
    requirements.write_text(gradescope._hash_file(sorted(wheelhouse.glob("*.whl"))))
    subprocess.run([str(venv / "bin" / "python3"), f"{pip}/pip", "install", "--quiet",
                    "--no-index", "--find-links", str(wheelhouse), "--require-hashes", "-r",
                    str(requirements), "--disable-pip-version-check",
                    "--root-user-action=ignore"], check=True, timeout=600)
    # The checkout may be closed to others: the user gets its own copy of the exercise.
    exercises = shared / "exercises"
    shutil.copytree(SERVER.folder, exercises / SERVER.exercise_id,
                    ignore=shutil.ignore_patterns("__pycache__"))
    home = shared / "home"
    home.mkdir()
    os.chown(home, uid, uid)
    subprocess.run(["chmod", "-R", "a+rX", str(shared)], check=True)
    yield uid, venv / "bin" / "python3", exercises, home
    shutil.rmtree(shared, ignore_errors=True)


def run_as(uid: int, command: list[str], home: Path, timeout: float
           ) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *command],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home),
             "LANG": "C.UTF-8"},
        capture_output=True, text=True, timeout=timeout, cwd=home)


GRADE_AS_USER = """
import json, sys
from pathlib import Path
from grader.catalogue import load_exercise
from grader.host.runners import GradeRequest, get_runner
exercise = load_exercise(Path(sys.argv[1]))
document = get_runner("local").grade(GradeRequest(exercise, Path(sys.argv[2]), "en", 120,
                                                  parallel=1))
print(json.dumps(document))
"""


@pytest.mark.parametrize("kind", KINDS)
def test_detached_processes_die_with_their_check_as_an_ordinary_user(kind, ordinary_user):
    uid, python, exercises, home = ordinary_user
    records = shared_folder("tcp-grader-records-", 0o1777)
    submission = detached_submission(home / f"submission-{kind}", records, kind)
    try:
        result = run_as(uid, [str(python), "-I", "-c", GRADE_AS_USER,
                              str(exercises / SERVER.exercise_id), str(submission)], home, 300)
        assert result.returncode == 0, result.stderr[-3000:]
        document = json.loads(result.stdout)
        assert assert_contained(document, records, kind, one_at_a_time=True) == {uid}
        # The grader's reaper (the user's too) ends right after the grader: then nothing is left.
        assert wait_until(lambda: not containment.processes_of_uid(uid), 30), \
            containment.processes_of_uid(uid)
    finally:
        shutil.rmtree(records, ignore_errors=True)
        shutil.rmtree(submission, ignore_errors=True)


# What the student's program knows of where it runs: its capabilities and its network.
WHERE_I_RUN = """\
import os, sys
_status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
with open(os.path.join({records!r}, str(os.getpid())), "w") as _out:
    _out.write(" ".join([_status["CapEff"].strip(), _status["CapPrm"].strip(),
                         _status["CapAmb"].strip(), os.readlink("/proc/self/ns/net")]))
"""


def graded_where_it_runs(ordinary_user, name: str, *env: str) -> tuple[dict, list[list[str]]]:
    """02's reference, prefixed with WHERE_I_RUN, graded as the ordinary user (``env``:
    NAME=VALUE settings for the grader): its document, and what each process recorded."""
    uid, python, exercises, home = ordinary_user
    records = shared_folder("tcp-grader-records-", 0o1777)
    submission = home / name
    submission.mkdir()
    server = (TOP / "reference" / SERVER.exercise_id / "server.py").read_text()
    (submission / "server.py").write_text(WHERE_I_RUN.format(records=str(records)) + server)
    subprocess.run(["chmod", "-R", "a+rX", str(submission)], check=True)
    try:
        result = run_as(uid, ["env", *env, str(python), "-I", "-c", GRADE_AS_USER,
                              str(exercises / SERVER.exercise_id), str(submission)], home, 300)
        assert result.returncode == 0, result.stderr[-3000:]
        return (json.loads(result.stdout),
                [path.read_text().split() for path in records.iterdir()])
    finally:
        shutil.rmtree(records, ignore_errors=True)
        shutil.rmtree(submission, ignore_errors=True)


def test_an_ordinary_users_session_has_a_network_of_its_own_and_is_captured(ordinary_user):
    """As an ordinary user (a student's tox) the session runs in a user and network
    namespace of its own: its checks are captured for the wire view, the student's program
    runs there with no capability at all, and the grade is the same full marks."""
    document, seen = graded_where_it_runs(ordinary_user, "submission-where")
    assert document["score"] == SERVER.max_points(), document["tests"]
    sources = {test["wire"]["source"] for test in document["tests"] if "wire" in test}
    assert sources == {"capture"}, sources
    assert any(test["wire"]["connections"] for test in document["tests"] if "wire" in test)
    assert seen, "the program never ran"
    ours = os.readlink("/proc/self/ns/net")
    for effective, permitted, ambient, network in seen:
        assert int(effective, 16) == int(permitted, 16) == int(ambient, 16) == 0, seen
        assert network != ours, "the program ran on the machine's own network"


def test_an_ordinary_user_may_keep_the_machines_network(ordinary_user):
    """GRADER_OWN_NETWORK=0: the session stays on the machine's network, and its views say
    they are not captures."""
    document, seen = graded_where_it_runs(ordinary_user, "submission-machine",
                                          "GRADER_OWN_NETWORK=0")
    assert document["score"] == SERVER.max_points()
    sources = {test["wire"]["source"] for test in document["tests"] if "wire" in test}
    assert sources == {"log"}, sources
    assert {network for *_caps, network in seen} == {os.readlink("/proc/self/ns/net")}


# -- a session or a grader killed outright ----------------------------------------------------

def _children(pid: int) -> list[int]:
    return [child for child, proc in containment._table().items() if proc.ppid == pid]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize("victim", ["session", "grader", "keeper"])
def test_detached_processes_die_with_a_killed_session_or_grader(victim, tmp_path):
    """SIGKILL for the session (its keeper clears up), for the grader (its reaper kills the
    session, the keeper clears up), for the keeper itself (the grader clears up after it: the
    cgroup and the uid it had; as an ordinary user without a cgroup, orphans then escape)."""
    if victim == "keeper" and os.geteuid() != 0 and not cgroups_here():
        pytest.skip("without a cgroup or a uid of the student's, a killed keeper's orphans escape")
    records = shared_folder("tcp-grader-records-", 0o1777)
    submission = detached_submission(tmp_path / "held", records, "disguised", hold=True)
    grader = subprocess.Popen([sys.executable, "-m", "grader", "check", SERVER.exercise_id,
                               str(submission)], cwd=TOP, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: recorded(records), 60), "the submission never started"
        keeper = next(pid for pid in _children(grader.pid)
                      if b"\0keep\0" in _cmdline(pid))
        session = next(pid for pid in _children(keeper) if b"grader.session" in _cmdline(pid))
        os.kill({"session": session, "grader": grader.pid, "keeper": keeper}[victim],
                signal.SIGKILL)
        grader.wait(60)  # killed, or done: its session was killed and graded nothing more
        assert wait_until(lambda: not still_running(records), 60), still_running(records)
        assert wait_until(lambda: not any(containment._alive(containment._proc(pid))
                                          for pid in (keeper, session)), 60)
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait()
        shutil.rmtree(records, ignore_errors=True)


# -- the Gradescope bundle --------------------------------------------------------------------

def _source_digest() -> str:
    digest = hashlib.sha256()
    for folder in (gradescope.PACKAGE, ECHO.folder):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_the_bundle_is_reproducible_and_carries_its_wheels(wheelhouse, tmp_path):
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    for _attempt in range(3):  # others may edit the checkout meanwhile: same source, same bytes
        source = _source_digest()
        gradescope.build_bundle(ECHO, first, wheelhouse)
        gradescope.build_bundle(ECHO, second, wheelhouse)
        if _source_digest() == source:
            break
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as bundle:
        names = bundle.namelist()
        setup = bundle.read("setup.sh").decode()
        requirements = bundle.read("wheels/requirements.txt").decode()
    wheels = {name.split("/")[1].split("-")[0].lower() for name in names
              if name.startswith("wheels/") and name.endswith(".whl")}
    assert {"tcp_grader", "pytest", "pexpect", "ptyprocess", "pluggy", "iniconfig",
            "packaging", "pip"} <= wheels
    assert "--no-index" in setup and "--require-hashes" in setup and "useradd" in setup
    assert '/pip" install --no-index' in setup and "https://" not in setup
    assert all("--hash=sha256:" in line for line in requirements.splitlines())


def _tar(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    folders = sorted({str(parent) for name in files for parent in Path(name).parents
                      if str(parent) != "."})
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), (modes or {}).get(name, 0o644)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Gradescope:
    """A root container of the project's base image, laid out as Gradescope's."""

    def __init__(self, engine, bundle: Path) -> None:
        self.container = engine.containers.run(
            BASE_IMAGE, ["sleep", "infinity"], detach=True, network_mode="none",
            labels={"tcp-grader": "1", "tcp-grader.test": uuid.uuid4().hex},
            mem_limit="2g", pids_limit=2048, init=True)
        with zipfile.ZipFile(bundle) as archive:
            files = {f"source/{info.filename}": archive.read(info)
                     for info in archive.infolist() if not info.is_dir()}
            modes = {f"source/{info.filename}": (info.external_attr >> 16) & 0o777
                     for info in archive.infolist() if not info.is_dir()}
        self.exec(["mkdir", "-p", "/autograder/submission", "/autograder/results"])
        self.container.put_archive("/autograder", _tar(files, modes))
        self.exec(["cp", "/autograder/source/run_autograder", "/autograder/run_autograder"])

    def exec(self, command: list[str], check: bool = True) -> str:
        code, output = self.container.exec_run(command)
        text = output.decode("utf-8", "replace")
        assert not check or code == 0, f"{command}: {code}\n{text[-3000:]}"
        return text

    def submit(self, folder: Path) -> None:
        self.exec(["rm", "-rf", "/autograder/submission"])
        self.exec(["mkdir", "-p", "/autograder/submission"])
        files = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
        self.container.put_archive("/autograder/submission", _tar(files))

    def results(self) -> dict:
        return json.loads(self.exec(["cat", "/autograder/results/results.json"]))

    def processes(self) -> list[str]:
        """Every process of the container but its init, its sleep and this very look."""
        listing = self.exec(["python3", "-c", (
            "import os\n"
            "for pid in sorted(int(p) for p in os.listdir('/proc') if p.isdigit()):\n"
            "    if pid == os.getpid(): continue\n"
            "    try:\n"
            "        uid = open(f'/proc/{pid}/status').read().split('Uid:')[1].split()[0]\n"
            "        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ')\n"
            "    except OSError: continue\n"
            "    print(pid, uid, cmd.decode(errors='replace'))\n")])
        return [line for line in listing.splitlines()
                if line.split()[2:3] not in (["sleep"], ["/sbin/docker-init"],
                                             ["/dev/init"])]

    def digest(self, *folders: str) -> str:
        return self.exec(["sh", "-c", f"find {' '.join(folders)} -type f -print0 | sort -z"
                                      f" | xargs -0 sha256sum"])

    def remove(self) -> None:
        self.container.remove(force=True)


@pytest.fixture(scope="module")
def gradescope_container(docker_engine, wheelhouse, tmp_path_factory):
    bundle = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    gradescope.build_bundle(CLIENT, bundle, wheelhouse)
    began = time.monotonic()
    container = Gradescope(docker_engine, bundle)
    try:
        described = container.exec(["bash", "/autograder/source/setup.sh"])
        print(f"setup.sh: {time.monotonic() - began:.1f} s\n{described}")
        yield container
    finally:
        container.remove()


def _grade(container: Gradescope, folder: Path) -> tuple[dict, float]:
    container.submit(folder)
    began = time.monotonic()
    container.exec(["/autograder/run_autograder"])
    elapsed = time.monotonic() - began
    left = container.processes()
    assert left == [], f"processes left when run_autograder returned: {left}"
    return container.results(), elapsed


@pytest.mark.docker
def test_gradescope_grades_the_reference_with_full_marks(gradescope_container):
    document, elapsed = _grade(gradescope_container, TOP / "reference" / CLIENT.exercise_id)
    print(f"run_autograder, reference: {elapsed:.1f} s")
    assert document["score"] == document["max_score"] == CLIENT.max_points(), outputs(document)
    student = gradescope_container.exec(["id", "-u", gradescope.STUDENT_USER]).strip()
    assert student != "0"
    # Nothing of this grading is left for a later one to read: no scratch copy, no work folder.
    leftovers = gradescope_container.exec(["sh", "-c", "ls -d /tmp/tcp-grader-* 2>/dev/null"],
                                          check=False)
    assert leftovers.strip() == ""


@pytest.mark.docker
def test_gradescope_attacks_cannot_change_the_score(gradescope_container):
    container = gradescope_container
    # Another student's submission, as an instructor might leave one next to the bundle.
    container.exec(["mkdir", "-p", "/autograder/other_submission"])
    container.container.put_archive("/autograder/other_submission", _tar(
        {"client.py": (TOP / "reference" / CLIENT.exercise_id / "client.py").read_bytes()}))
    installed = container.digest("/opt/tcp-grader", "/autograder/source")
    baseline, _elapsed = _grade(container, GRADESCOPE_HOSTILE / "inert")
    document, elapsed = _grade(container, GRADESCOPE_HOSTILE / "attacker")
    print(f"run_autograder, attacker: {elapsed:.1f} s, score {document['score']}")
    text = outputs(document)
    assert "gradescope attacker: forged, edited, daemon started, other submission: None" in text
    for evidence in ("ATTACK-", "FORGED", "refusing to run"):
        assert evidence not in text and evidence not in json.dumps(document)
    assert document["score"] == baseline["score"] < document["max_score"]
    assert [test["check"] for test in document["tests"]] == \
        [test["check"] for test in baseline["tests"]]
    assert container.digest("/opt/tcp-grader", "/autograder/source") == installed
    # The daemon meant to rewrite the grade after run_autograder returned was gone when it
    # returned (``_grade``): nothing can change the file any more, and nothing has.
    assert container.processes() == []
    assert container.results() == document
