"""Driving student programs: answers at the prompt, output without flush, caps, kill tree."""

from __future__ import annotations

import signal
import textwrap

from grader import procinfo
from grader.program import StudentProgram, kill_session
from grader.waiting import wait_until


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
