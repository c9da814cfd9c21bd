"""Driving student programs: answers at the prompt, output without flush, caps, kill tree."""

from __future__ import annotations

import signal
import sys
import textwrap
import threading

from grader.session import procinfo
from grader.session.program import StudentProgram, kill_session
from grader.session.waiting import wait_until


def write(tmp_path, source: str, name: str = "prog.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_answers_prompts_in_any_language_or_none(tmp_path):
    script = write(tmp_path, """
        a = input("请输入服务器IP:")
        b = input()
        c = input("Message: ")
        print("got", a, b, c)
    """)
    program = StudentProgram(script, answers=["127.0.0.1", "7788", "你好"]).start()
    try:
        assert program.wait_exit(5)
        assert program.exit_status == 0
        assert "got 127.0.0.1 7788 你好" in program.printed
        assert not program.unanswered_question
    finally:
        program.kill_tree()


def test_an_extra_question_is_noticed_not_answered(tmp_path):
    script = write(tmp_path, """
        input("one: ")
        input("two: ")
    """)
    program = StudentProgram(script, answers=["1"]).start()
    try:
        assert program.wait_question(5)
        assert program.running()
    finally:
        program.kill_tree()
    assert not program.running()


def test_the_last_line_before_a_quick_exit_is_kept(tmp_path, monkeypatch):
    """A server that prints what it got, replies and exits within a millisecond: the check's
    thread reaps it while the terminal's reader still reads. Two threads reaping once made
    the reader die (pexpect's ``isalive()`` raised) and the printed line was lost, about one
    run in a hundred under load; threads switching every 10 us make the race likely."""
    script = write(tmp_path, 'print("got:", "你好服务器")\n')
    reader_errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda hook: reader_errors.append(
        hook.exc_value))
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    lost: list[int] = []

    def quick_exits(count: int) -> None:
        for _ in range(count):
            program = StudentProgram(script).start()
            try:
                while program.running():  # the check's thread reaps as soon as it can
                    pass
                if not wait_until(lambda: "你好服务器" in program.printed, 2.0):
                    lost.append(program.pid)
            finally:
                program.kill_tree()

    runners = [threading.Thread(target=quick_exits, args=(40,)) for _ in range(4)]
    try:
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join()
    finally:
        sys.setswitchinterval(previous)
    assert reader_errors == []
    assert lost == []


def test_print_without_flush_is_seen_while_running(tmp_path):
    script = write(tmp_path, """
        import time
        print("ready")
        time.sleep(30)
    """)
    program = StudentProgram(script).start()
    try:
        assert program.wait_output("ready", 5)
        assert program.running()
    finally:
        program.kill_tree()


def test_output_is_capped(tmp_path):
    script = write(tmp_path, """
        while True:
            print("x" * 1000)
    """)
    program = StudentProgram(script, output_cap=10_000).start()
    try:
        wait_until(lambda: program.dropped_output > 0, 5)
        assert len(program.raw_output) == 10_000
        assert "more bytes of output not kept" in program.output
    finally:
        program.kill_tree()


def test_traceback_and_signal_are_reported(tmp_path):
    script = write(tmp_path, """
        import time
        time.sleep(30)
    """)
    program = StudentProgram(script).start()
    try:
        wait_until(lambda: procinfo.state(program.pid) == "S", 5)
        assert program.stop(signal.SIGINT, 5)
        # Python re-raises an uncaught KeyboardInterrupt as death by SIGINT
        assert program.has_traceback() and program.exit_signal == signal.SIGINT
        assert "SIGINT" in program.exit_description()
    finally:
        program.kill_tree()


def test_kill_tree_reaches_a_double_forked_daemon(tmp_path):
    pid_file = tmp_path / "daemon.pid"
    script = write(tmp_path, f"""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                open({str(pid_file)!r}, "w").write(str(os.getpid()))
                time.sleep(60)
            os._exit(0)
        time.sleep(60)
    """)
    program = StudentProgram(script).start()
    try:
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text(), 5)
        daemon = int(pid_file.read_text())
        assert procinfo.is_alive(daemon)
    finally:
        program.kill_tree()
    assert wait_until(lambda: not procinfo.is_alive(daemon), 2)


def test_kill_session_finds_processes_by_marker(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SESSION", "test-token-123")
    script = write(tmp_path, """
        import time
        time.sleep(60)
    """)
    program = StudentProgram(script).start()
    assert wait_until(lambda: procinfo.is_alive(program.pid), 5)
    kill_session("test-token-123")
    assert wait_until(lambda: not program.running(), 2)
    program.kill_tree()


def test_limits_apply_to_the_student_process(tmp_path):
    script = write(tmp_path, """
        import resource
        print("cpu", resource.getrlimit(resource.RLIMIT_CPU)[0])
        print("core", resource.getrlimit(resource.RLIMIT_CORE)[0])
    """)
    program = StudentProgram(script).start()
    try:
        assert program.wait_exit(5)
        assert "cpu 60" in program.printed and "core 0" in program.printed
    finally:
        program.kill_tree()


def test_a_grader_ignoring_sigint_does_not_pass_that_on(tmp_path):
    script = write(tmp_path, """
        import signal
        print("handler", signal.getsignal(signal.SIGINT).__name__)
    """)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job (cmd &)
    try:
        program = StudentProgram(script).start()
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        assert program.wait_exit(5)
        assert "handler default_int_handler" in program.printed
    finally:
        program.kill_tree()


# -- containment (grader.session.containment), in a process of its own as a check runs --------

def in_a_check_process(work) -> dict:
    """Run ``work()`` in a process forked from this one, as the session runs each check, and
    return what it returns (a dict, through a pipe)."""
    import json
    import os
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_end)
            os.write(write_end, json.dumps(work()).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    assert data, "the check process failed"
    return json.loads(data)


def test_a_check_kills_a_daemon_that_shed_its_session_environment_and_name(tmp_path):
    """Fork, setsid, fork, then execve with an empty environment under another name, deaf to
    SIGTERM: the check's own sweep (kill_student_processes) still finds it: as the check's
    process is its subreaper, it was re-parented there."""
    from grader.session.program import kill_student_processes
    pid_file = tmp_path / "daemon.pid"
    tmp_path.chmod(0o777)
    script = write(tmp_path, f"""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execve(sys.executable, ["[kworker/0:1]", "-c",
                          "import os, signal, time\\n"
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
                          "open({str(pid_file)!r}, 'w').write(str(os.getpid()))\\n"
                          "time.sleep(60)"], {{}})
            os._exit(0)
        time.sleep(60)
    """)

    def check() -> dict:
        program = StudentProgram(script).start()
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text(), 10)
        daemon = int(pid_file.read_text())
        seen = procinfo.is_alive(daemon) and daemon not in program.members()
        kill_student_processes()
        program.kill_tree()
        return {"daemon": daemon, "escaped_the_run": seen}

    result = in_a_check_process(check)
    assert result["escaped_the_run"]  # the run's own tree, session and marker miss it...
    assert wait_until(lambda: not procinfo.is_alive(result["daemon"]), 5)  # ...the check does not


def test_the_sweep_spares_the_graders_own_helpers(tmp_path):
    """A helper the check's process starts itself (the network agent, nft) stays in its
    session: it is never taken for one of the submission's processes."""
    import subprocess
    from grader.session import containment

    def check() -> dict:
        helper = subprocess.Popen(["sleep", "30"])
        program = StudentProgram(write(tmp_path, "import time\ntime.sleep(30)\n")).start()
        assert wait_until(lambda: procinfo.is_alive(program.pid), 5)
        members = containment.members()
        containment.sweep()
        alive = helper.poll() is None
        helper.kill()
        helper.wait()
        program.kill_tree()
        return {"helper_member": helper.pid in members, "program_member": program.pid in members,
                "helper_alive": alive}

    assert in_a_check_process(check) == {"helper_member": False, "program_member": True,
                                         "helper_alive": True}


def test_a_student_program_gains_no_privileges(tmp_path):
    script = write(tmp_path, """
        for line in open("/proc/self/status"):
            if line.startswith(("NoNewPrivs", "CapEff")):
                print(line.strip())
    """)
    program = StudentProgram(script).start()
    try:
        assert program.wait_exit(5)
        assert "NoNewPrivs:\t1" in program.printed
    finally:
        program.kill_tree()


def test_a_python_the_student_cannot_reach_is_not_chosen(tmp_path):
    from grader.session import containment
    who = containment.Student(2_100_000_123, 2_100_000_123)
    closed = tmp_path / "closed"
    (closed / "bin").mkdir(parents=True)
    program = closed / "bin" / "python3"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    closed.chmod(0o700)
    assert not containment.usable_by(str(program), who)
    closed.chmod(0o755)
    tmp_path.chmod(0o755)
    reachable = all(containment.reachable_by(folder, who) for folder in tmp_path.parents)
    assert containment.usable_by(str(program), who) == reachable


def test_a_crash_is_placed_in_the_students_file_not_the_interpreters():
    from grader.session.feedback import parse_crash
    output = ('Traceback (most recent call last):\n'
              '  File "/tmp/run-1/upload_client.py", line 12, in <module>\n'
              '    data = f.read()\n'
              '  File "<frozen codecs>", line 322, in decode\n'
              "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0\n")
    crash = parse_crash(output, "/tmp/run-1")
    assert (crash.file, crash.line) == ("upload_client.py", 12)
    assert crash.exception.startswith("UnicodeDecodeError")
