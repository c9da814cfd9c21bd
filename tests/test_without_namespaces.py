"""On a machine where the grader cannot make a network namespace of its own (Docker's
default capabilities, as on Gradescope; a laptop whose kernel forbids unprivileged user
namespaces), a correct server still gets full marks: its default-port check runs on the
machine's loopback, with port 7788 held by a machine-wide lock, so two exercises graded at
the same time never both start a server there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cases import EXERCISES, TOP

REFUSING_UNSHARE = "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n"


def test_default_ports_on_the_machines_loopback_one_check_at_a_time(tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "unshare").write_text(REFUSING_UNSHARE)
    (tools / "unshare").chmod(0o755)
    env = dict(os.environ, PATH=f"{tools}:{os.environ['PATH']}")
    exercises = ["02-tcp-server", "03-echo-server", "04-concurrent-server", "05-line-protocol"]
    out = tmp_path / "all.json"
    result = subprocess.run([sys.executable, "-m", "grader", "check", "--all", "reference",
                             *exercises, "-j", str(len(exercises)), "--json", str(out)],
                            cwd=TOP, env=env, capture_output=True, text=True, timeout=600)
    documents = json.loads(out.read_text(encoding="utf-8"))["exercises"]
    for exercise in exercises:
        default = next(test for test in documents[exercise]["tests"]
                       if test["check"].endswith("default_port"))
        assert default["status"] == "passed", (exercise, default["output"])
        assert documents[exercise]["score"] == EXERCISES[exercise].max_points(), exercise
    assert result.returncode == 0, result.stdout[-3000:]
