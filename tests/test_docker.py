"""The docker runner: the same grades as the local runner, and the container's hardening
seen from inside.

- Parity: every reference and faulty program gets the same score and the same status for
  every check with ``--runner local`` and ``--runner docker``.
- Hardening, each item observed from inside a container: by a probe submission graded in
  the container (the student's view: uid 2000 under the grader), or by a probe run as the
  container's main process in a container started with ``container_options`` (the grader's
  view), plus the options the engine actually applied.
- The wall-clock deadline, interruption of ``grader check`` (SIGINT, SIGTERM) and an
  unreachable engine leave a complete result or a clear message, and never a container.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
import warnings
from pathlib import Path

import pytest

import dockerwatch
from cases import EXERCISES, TOP, faulty_cases, reference_cases
from grader.host.runners import GradeRequest
from grader.host.runners import docker as docker_runner
from grader.host.runners import local as local_runner
from grader.session.waiting import wait_until

pytestmark = pytest.mark.docker

SERVER_EXERCISE = EXERCISES["02-tcp-server"]
GiB = 1024 ** 3
MiB = 1024 ** 2


# -- parity with the local runner ----------------------------------------------------------

@pytest.mark.parametrize("case", reference_cases() + faulty_cases(), ids=lambda case: case.id)
def test_same_grade_on_both_runners(case, graded, docker_engine):
    local = graded(case)
    in_docker = graded(case, "docker")
    if _verdicts(local) != _verdicts(in_docker):
        # A check that races with the program (or a program that races with itself) can come
        # out differently in any two runs, on one runner as well; a difference the runner
        # makes comes out again. So grade both once more, and judge that pair, saying so.
        first = _differences(local, in_docker)
        request = GradeRequest(case.exercise, case.folder, lang="en", timeout=300,
                               image=dockerwatch.IMAGE)
        local = local_runner.RUNNER.grade(request)
        in_docker = docker_runner.RUNNER.grade(request)
        warnings.warn(f"{case.id}: the runners disagreed, then were graded again:\n{first}")
    assert _verdicts(in_docker) == _verdicts(local), _differences(local, in_docker)
    assert in_docker["max_score"] == local["max_score"] == case.exercise.max_points()


def _verdicts(document: dict) -> tuple[float, dict[str, str]]:
    return document["score"], {test["check"]: test["status"] for test in document["tests"]}


def _differences(local: dict, in_docker: dict) -> str:
    docker_tests = {test["check"]: test for test in in_docker["tests"]}
    lines = []
    for test in local["tests"]:
        other = docker_tests.get(test["check"], {"status": "missing", "output": ""})
        if other["status"] != test["status"]:
            lines.append(f"{test['check']}: local {test['status']}, docker {other['status']}\n"
                         f"  local:  {test['output'][:600]}\n  docker: {other['output'][:600]}")
    return "\n".join(lines)


# -- the student's view: a probe graded in the container -----------------------------------

# What STUDENT_PROBE and ROOT_PROBE both use: the errno name of a refused action, the
# first readable file.
PROBE_HELPERS = r'''
import errno


def error_name(action):
    try:
        action()
        return "ok"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))


def read_first(*paths):
    for path in paths:
        try:
            with open(path) as handle:
                return handle.read().strip()
        except OSError:
            pass
    return None
'''

# Graded as 02-tcp-server's server.py. The first run (first check) probes and keeps the
# answer in /tmp; every run prints it on one line and exits without listening, so every
# check fails at once with the line in its feedback.
STUDENT_PROBE = PROBE_HELPERS + r'''
import json, os, signal, socket, sys, time

CACHE = "/tmp/student-probe.json"


def status_fields():
    with open("/proc/self/status") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)


def owner(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("Uid:"))
    except (OSError, StopIteration):
        return None


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=2)
    peer, _ = server.accept()
    client.sendall(b"ping")
    answer = peer.recv(4)
    for sock in (client, peer, server):
        sock.close()
    return answer == b"ping"


def connect(address):
    with socket.socket() as sock:
        sock.settimeout(3)
        sock.connect((address, 80))


def most_forks(limit=400):
    """How many children this process could fork before the kernel refused."""
    read_end, write_end = os.pipe()
    children, refused = [], None
    while len(children) < limit:
        try:
            pid = os.fork()
        except OSError as error:
            refused = errno.errorcode.get(error.errno)
            break
        if pid == 0:
            os.close(write_end)
            os.read(read_end, 1)
            os._exit(0)
        children.append(pid)
    os.close(write_end)
    for pid in children:
        os.waitpid(pid, 0)
    os.close(read_end)
    return len(children), refused


def big_allocation():
    """A child touches 2 GiB; how it ended."""
    pid = os.fork()
    if pid == 0:
        try:
            hoard = b"\x01" * (2 * 1024 ** 3)
            os._exit(0 if len(hoard) else 3)
        except MemoryError:
            os._exit(4)
    _pid, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return {0: "allocated", 4: "MemoryError"}.get(os.WEXITSTATUS(status), "exit %d" % os.WEXITSTATUS(status))


def cpu_share(workers=2, seconds=1.5):
    """CPU seconds used per wall second by ``workers`` spinning children."""
    start, before = time.monotonic(), os.times()
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    after = os.times()
    used = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return used / (time.monotonic() - start)


def probe():
    fields = status_fields()
    parent = os.getppid()
    root_pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and owner(int(p)) == 0]
    return {
        "uid": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()], "groups": os.getgroups(),
        "caps": {name: fields.get(name) for name in ("CapInh", "CapPrm", "CapEff", "CapAmb")},
        "no_new_privs": fields.get("NoNewPrivs"), "seccomp": fields.get("Seccomp"),
        "nice": os.getpriority(os.PRIO_PROCESS, 0), "policy": os.sched_getscheduler(0),
        "raise_priority": error_name(lambda: os.setpriority(os.PRIO_PROCESS, 0, 0)),
        "leave_idle": error_name(
            lambda: os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))),
        "interfaces": sorted(os.listdir("/sys/class/net")),
        "loopback": loopback(),
        "remote": {address: error_name(lambda: connect(address))
                   for address in ("192.0.2.1", "198.51.100.7", "203.0.113.9")},
        "udp_remote": error_name(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                                 .sendto(b"x", ("192.0.2.1", 53))),
        "opt_grader_list": error_name(lambda: os.listdir("/opt/grader")),
        "checks_read": error_name(lambda: open("/opt/grader/exercises/02-tcp-server/checks/"
                                               "test_server.py").read()),
        "grader_lib_read": error_name(lambda: open("/opt/grader/lib/grader/plugin.py").read()),
        "results_list": error_name(lambda: os.listdir("/results")),
        "results_write": error_name(lambda: open("/results/results.json", "w").write("{}")),
        "results_create": error_name(lambda: open("/results/forged.json", "w").write("{}")),
        "root_write": {path: error_name(lambda: open(path, "w").write("x"))
                       for path in ("/forged", "/usr/forged", "/etc/passwd", "/submission/forged")},
        "tmp_write": error_name(lambda: open("/tmp/student-was-here", "w").write("x")),
        "parent": {"pid": parent, "uid": owner(parent), "cmdline": cmdline(parent)},
        "signal_parent": [error_name(lambda: os.kill(parent, 0)),
                          error_name(lambda: os.kill(parent, signal.SIGKILL))],
        "signal_init": [error_name(lambda: os.kill(1, 0)),
                        error_name(lambda: os.kill(1, signal.SIGKILL))],
        "init_cmdline": cmdline(1),
        "signal_any_root": sorted({error_name(lambda: os.kill(pid, 0)) for pid in root_pids}),
        "root_processes": len(root_pids),
        "memory_limit": read_first("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                   "/sys/fs/cgroup/memory.max"),
        "big_allocation": big_allocation(),
        "forks": most_forks(),
        "cpu_share": cpu_share(),
    }


try:
    with open(CACHE) as handle:
        answer = handle.read()
except OSError:
    answer = json.dumps(probe(), sort_keys=True)
    with open(CACHE, "w") as handle:
        handle.write(answer)
print("PROBE " + answer, flush=True)
'''


@pytest.fixture(scope="module")
def student_view(docker_engine, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("student-probe")
    (folder / "server.py").write_text(textwrap.dedent(STUDENT_PROBE), encoding="utf-8")
    watched = dockerwatch.grade(GradeRequest(SERVER_EXERCISE, folder, "en", timeout=240))
    outputs = "\n".join(test["output"] for test in watched.document["tests"])
    found = re.search(r"PROBE (\{.*\})", outputs)
    assert found, f"the probe printed nothing the grader kept:\n{outputs[:3000]}"
    dockerwatch.assert_nothing_left(docker_engine, watched)
    return json.loads(found.group(1))


def test_student_runs_unprivileged(student_view):
    uid = student_view["uid"][0]
    assert uid in docker_runner.STUDENT_UIDS and student_view["uid"] == [uid] * 4
    assert student_view["groups"] == []
    assert student_view["caps"] == {"CapInh": "0000000000000000", "CapPrm": "0000000000000000",
                                    "CapEff": "0000000000000000", "CapAmb": "0000000000000000"}
    assert student_view["no_new_privs"] == "1"
    assert student_view["seccomp"] == "2"  # the engine's default seccomp filter


def test_student_yields_the_cpu_to_the_grader(student_view):
    assert student_view["nice"] == 19  # and it cannot take that back
    assert student_view["policy"] == os.SCHED_IDLE
    assert student_view["raise_priority"] == "EACCES"
    assert student_view["leave_idle"] == "EPERM"


def test_student_has_no_network_but_loopback(student_view):
    assert student_view["interfaces"] == ["lo"]
    assert student_view["loopback"] is True
    # No route leaves the container: connecting anywhere but loopback fails at once.
    assert set(student_view["remote"].values()) == {"ENETUNREACH"}, student_view["remote"]
    assert student_view["udp_remote"] == "ENETUNREACH"


def test_student_cannot_read_the_checks_or_the_grader(student_view):
    assert student_view["opt_grader_list"] == "EACCES"
    assert student_view["checks_read"] == "EACCES"
    assert student_view["grader_lib_read"] == "EACCES"


def test_student_cannot_write_the_results(student_view):
    assert student_view["results_list"] == "EACCES"
    assert student_view["results_write"] == "EACCES"
    assert student_view["results_create"] == "EACCES"


def test_student_writes_nowhere_but_tmp(student_view):
    for path, outcome in student_view["root_write"].items():
        assert outcome in ("EACCES", "EROFS"), (path, outcome)
    assert student_view["tmp_write"] == "ok"


def test_student_cannot_signal_the_grader(student_view):
    parent = student_view["parent"]
    assert parent["uid"] == 0 and "grader.session" in parent["cmdline"], parent
    assert student_view["signal_parent"] == ["EPERM", "EPERM"]
    assert student_view["signal_init"] == ["EPERM", "EPERM"]
    assert student_view["root_processes"] >= 2  # docker-init and the grader at least
    assert student_view["signal_any_root"] == ["EPERM"]


def test_student_memory_is_limited(student_view):
    assert int(student_view["memory_limit"]) == GiB
    assert student_view["big_allocation"] in ("killed by SIGKILL", "MemoryError")


def test_student_process_count_is_limited(student_view):
    # Its uid's limit, below the container's: the rest is the grader's, which a fork bomb
    # must never starve.
    forks, refused = student_view["forks"]
    assert forks < docker_runner.STUDENT_PROCESSES and refused == "EAGAIN", student_view["forks"]
    assert docker_runner.STUDENT_PROCESSES < docker_runner.CONTAINER_PIDS


def test_containers_side_by_side_get_their_own_student_uid():
    # The kernel counts RLIMIT_NPROC per uid across containers: one student's fork bomb
    # must never count against another's processes.
    with docker_runner.student_uid() as first, docker_runner.student_uid() as second:
        assert first != second
        assert {first, second} <= set(docker_runner.STUDENT_UIDS)


def test_student_cpu_is_limited(student_view):
    # Two spinning children get at most the container's one CPU (less on a busy machine).
    assert student_view["cpu_share"] < 1.5, student_view["cpu_share"]


# -- the grader's view: the container's main process, as the runner configures it ----------

ROOT_PROBE = PROBE_HELPERS + r'''
import json, os, socket

def fill(folder, block=1024 * 1024, per_file=16):
    written, number = 0, 0
    while written < 1024 ** 3:
        number += 1
        try:
            with open(os.path.join(folder, "fill-%d" % number), "wb") as handle:
                for _ in range(per_file):
                    handle.write(b"\xee" * block)
                    written += block
        except OSError as error:
            return written, errno.errorcode.get(error.errno)
    return written, None

status = dict(line.rstrip("\n").split(":\t", 1) for line in open("/proc/self/status") if ":\t" in line)
mounts = {fields[1]: fields for fields in (line.split() for line in open("/proc/self/mounts"))}
vfs = os.statvfs("/tmp")
answer = {
    "uid": os.getuid(), "cap_eff": status["CapEff"], "no_new_privs": status["NoNewPrivs"],
    "root_mount": mounts["/"][3].split(","),
    "root_write": {path: error_name(lambda: open(path, "w").write("x"))
                   for path in ("/forged", "/usr/forged", "/etc/forged", "/opt/grader/forged")},
    "submission_write": error_name(lambda: open("/submission/forged", "w").write("x")),
    "results_write": error_name(lambda: open("/results/probe.json", "w").write("{}")),
    "tmp_mount": mounts["/tmp"][2:4], "tmp_size": vfs.f_blocks * vfs.f_frsize,
    "tmp_fill": fill("/tmp"),
    "interfaces": sorted(os.listdir("/sys/class/net")),
    "remote": error_name(lambda: socket.create_connection(("192.0.2.1", 80), timeout=3)),
    "memory_limit": read_first("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"),
    "memsw_limit": read_first("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
                              "/sys/fs/cgroup/memory.swap.max"),
    "pids_limit": read_first("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"),
    "cpu_quota": read_first("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu.max"),
    "cpu_period": read_first("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
    "pid1": open("/proc/1/cmdline", "rb").read().split(b"\0")[0].decode(),
}
print(json.dumps(answer))
'''

CAPABILITY_BITS = {"KILL": 5, "SETGID": 6, "SETUID": 7, "NET_ADMIN": 12, "NET_RAW": 13,
                   "SYS_PTRACE": 19, "DAC_READ_SEARCH": 2}


@pytest.fixture(scope="module")
def grader_view(docker_engine):
    """Run ROOT_PROBE as the main process of a container made with the runner's options."""
    work = Path(tempfile.mkdtemp(prefix="grader-docker-probe-"))
    try:
        (work / "results").mkdir(mode=0o700)
        (work / "submission").mkdir()
        (work / "submission").chmod(0o755)
        token = uuid.uuid4().hex
        options = docker_runner.container_options(
            GradeRequest(SERVER_EXERCISE, work / "submission", image=dockerwatch.IMAGE,
                         labels={dockerwatch.TEST_LABEL: token}), work, token)
        options["command"] = ["python3", "-I", "-c", ROOT_PROBE]  # instead of the session
        container = docker_engine.containers.run(**options)
        try:
            status = container.wait(timeout=120)
            logs = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            container.reload()
            config = container.attrs["HostConfig"]
        finally:
            container.remove(force=True)
        assert status["StatusCode"] == 0, logs
        return {"options": options, "config": config,
                "probe": json.loads(logs.strip().splitlines()[-1])}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_options_carry_the_hardening(grader_view):
    options, config = grader_view["options"], grader_view["config"]
    assert options["network_mode"] == config["NetworkMode"] == "none"
    assert options["read_only"] is True and config["ReadonlyRootfs"] is True
    assert options["nano_cpus"] == config["NanoCpus"] == 1_000_000_000
    assert config["Memory"] == config["MemorySwap"] == GiB
    assert config["PidsLimit"] == docker_runner.CONTAINER_PIDS
    assert config["CapDrop"] == ["ALL"]
    assert sorted(config["CapAdd"]) == sorted(docker_runner.CAPABILITIES)
    assert "no-new-privileges" in config["SecurityOpt"]
    assert config["Privileged"] is False and config["Init"] is True
    assert "size=256m" in config["Tmpfs"]["/tmp"] and "nosuid" in config["Tmpfs"]["/tmp"]
    assert options["environment"]["GRADER_STUDENT_UID"] == str(docker_runner.STUDENT_UID)
    assert int(options["environment"]["GRADER_STUDENT_PROCESSES"]) < config["PidsLimit"]


def test_grader_has_only_its_capabilities(grader_view):
    probe = grader_view["probe"]
    assert probe["uid"] == 0
    expected = sum(1 << CAPABILITY_BITS[name] for name in docker_runner.CAPABILITIES)
    assert int(probe["cap_eff"], 16) == expected
    assert probe["no_new_privs"] == "1"
    assert probe["pid1"] == "/sbin/docker-init"  # the grader is not pid 1: init reaps orphans


def test_root_filesystem_is_read_only_even_for_root(grader_view):
    probe = grader_view["probe"]
    assert "ro" in probe["root_mount"]
    assert set(probe["root_write"].values()) == {"EROFS"}, probe["root_write"]
    assert probe["submission_write"] == "EROFS"
    assert probe["results_write"] == "ok"  # the one place the grader writes to the host


def test_tmp_is_a_small_tmpfs(grader_view):
    probe = grader_view["probe"]
    kind, options = probe["tmp_mount"]
    assert kind == "tmpfs" and {"nosuid", "nodev"} <= set(options.split(","))
    assert probe["tmp_size"] == 256 * MiB
    written, refused = probe["tmp_fill"]
    assert refused == "ENOSPC" and 240 * MiB <= written <= 256 * MiB, probe["tmp_fill"]


def test_container_limits_as_the_kernel_applies_them(grader_view):
    probe = grader_view["probe"]
    assert probe["interfaces"] == ["lo"] and probe["remote"] == "ENETUNREACH"
    assert int(probe["memory_limit"]) == GiB
    assert probe["memsw_limit"] in (str(GiB), "0")  # v1: memory+swap; v2: swap beyond it
    assert probe["pids_limit"] == str(docker_runner.CONTAINER_PIDS)
    if probe["cpu_period"]:  # cgroup v1
        assert int(probe["cpu_quota"]) == int(probe["cpu_period"])
    else:  # cgroup v2: "quota period"
        quota, period = probe["cpu_quota"].split()
        assert int(quota) == int(period)


# -- the deadline, interruptions, no engine ---------------------------------------------------

HUNG_SERVER = "import time\nprint('hung', flush=True)\nwhile True:\n    time.sleep(1)\n"


@pytest.fixture
def hung_submission(tmp_path) -> Path:
    folder = tmp_path / "hung"
    folder.mkdir()
    (folder / "server.py").write_text(HUNG_SERVER, encoding="utf-8")
    return folder


def test_deadline_fails_every_check_and_removes_the_container(hung_submission, docker_engine):
    # Waiting for LISTEN takes 5 s per check: with 3 s no check can finish before the deadline.
    watched = dockerwatch.grade(GradeRequest(SERVER_EXERCISE, hung_submission, "en", timeout=3))
    document = watched.document
    assert watched.elapsed < 3 + 30
    assert sorted(test["check"] for test in document["tests"]) == \
        sorted(check.check_id for check in SERVER_EXERCISE.checks())
    for test in document["tests"]:
        assert test["status"] == "failed" and test["score"] == 0
        assert "did not finish within 3 s" in test["output"], test["output"]
    assert document["score"] == 0 and document["max_score"] == SERVER_EXERCISE.max_points()
    dockerwatch.assert_nothing_left(docker_engine, watched)


def _containers_mounting(engine, folder: Path) -> list:
    found = []
    for container in engine.containers.list(all=True, filters={"label": docker_runner.LABEL},
                                             ignore_removed=True):
        if any(mount.get("Source", "").startswith(str(folder))
               for mount in container.attrs.get("Mounts", [])):
            found.append(container)
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupted_check_leaves_no_container(signum, hung_submission, tmp_path, docker_engine):
    # The runner's work folder (and so the container's mounts) is made under TMPDIR: that is
    # how this test tells its container from any other on the engine.
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch), GRADER_IMAGE=dockerwatch.IMAGE)
    grader = subprocess.Popen(
        [sys.executable, "-m", "grader", "check", "02-tcp-server", str(hung_submission),
         "--runner", "docker", "--lang", "en"], cwd=TOP, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even if ignored here
    try:
        deadline = time.monotonic() + 60
        running = []
        while time.monotonic() < deadline and grader.poll() is None:
            running = [container for container in _containers_mounting(docker_engine, scratch)
                       if container.status == "running"]
            if running:
                break
            time.sleep(0.2)
        assert running, f"no grading container showed up (grader: {grader.poll()})"
        time.sleep(2.0)  # well inside the session: a check is waiting for the hung server
        grader.send_signal(signum)
        _out, err = grader.communicate(timeout=60)
    finally:
        if grader.poll() is None:  # the test failed: clean up what a killed grader leaves
            grader.kill()
            grader.wait()
            for container in _containers_mounting(docker_engine, scratch):
                container.remove(force=True)
    if signum == signal.SIGKILL:
        # No cleanup of the grader ran: its reaper removes the container and the work folder.
        assert grader.returncode == -signal.SIGKILL
        assert wait_until(lambda: not _containers_mounting(docker_engine, scratch), 60), \
            "the reaper did not remove the killed grader's container"
    else:
        assert grader.returncode == 130, err
        assert "interrupted" in err
        import docker.errors
        for container in running:
            with pytest.raises(docker.errors.NotFound):
                docker_engine.containers.get(container.id)
        assert _containers_mounting(docker_engine, scratch) == []
    # The work folder's last part (the grader's work root) goes with the grader's reaper.
    assert wait_until(lambda: not list(scratch.iterdir()), 60), \
        f"the runner's work folder was left behind: {list(scratch.iterdir())}"


def test_unreachable_engine_is_not_graded_and_says_so(hung_submission):
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent.sock")
    result = subprocess.run(
        [sys.executable, "-m", "grader", "check", "02-tcp-server", str(hung_submission),
         "--runner", "docker"], cwd=TOP, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--runner local" in result.stderr
    assert "Docker engine" in result.stderr


USES_THE_ENGINE = "def test_uses_the_engine(docker_engine):\n    pass\n"


@pytest.mark.parametrize("ci, outcome", [("true", "1 error"), ("", "1 skipped")],
                         ids=["CI-fails", "elsewhere-skips"])
def test_docker_tests_fail_in_ci_without_an_engine(ci, outcome, tmp_path):
    """The ``docker_engine`` fixture never lets CI skip the docker tests silently."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    docker: needs docker\n")
    (tmp_path / "test_uses_the_engine.py").write_text(USES_THE_ENGINE)
    env = dict(os.environ, CI=ci, DOCKER_HOST="unix:///nonexistent.sock",
               PYTHONPATH=str(TOP / "tests"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q",
         "-rfs", "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"),
         str(tmp_path / "test_uses_the_engine.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert outcome in result.stdout, result.stdout + result.stderr
    assert "no Docker engine is reachable" in result.stdout
    if ci:
        assert result.returncode == 1 and "CI=true" in result.stdout
