"""Watching the docker runner from the outside: which containers a grade made, whether any
of them or any of their processes is left afterwards.

A grade is tagged with one more label (``tcp-grader.test=<uuid>``, the runner's ``labels``
argument); nothing else of the hardening changes. The tag lets these
tests find their own containers even while other graders use the same engine. The ids of
the containers the runner starts are recorded as ``run`` returns them (the engine's event
log is no help: it replays only its last few hundred events).
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from grader.host.runners import docker as docker_runner

TEST_LABEL = f"{docker_runner.LABEL}.test"
IMAGE = os.environ.get("GRADER_IMAGE", "tcp-grader:latest")


@dataclass
class Watched:
    tag: str
    ids: list[str] = field(default_factory=list)
    document: dict | None = None
    elapsed: float = 0.0


class _RecordingEngine:
    """The engine, except that ``containers.run`` notes the id of what it started."""

    def __init__(self, engine, ids: list[str]) -> None:
        self._engine, self._ids = engine, ids

    def __getattr__(self, name):
        return getattr(self._engine, name)

    @property
    def containers(self):
        return _RecordingContainers(self._engine.containers, self._ids)


class _RecordingContainers:
    def __init__(self, containers, ids: list[str]) -> None:
        self._containers, self._ids = containers, ids

    def __getattr__(self, name):
        return getattr(self._containers, name)

    def run(self, *args, **kwargs):
        container = self._containers.run(*args, **kwargs)
        self._ids.append(container.id)
        return container


@contextmanager
def recorded_containers():
    """Within the block, the ids of the containers the docker runner starts are recorded."""
    watched = Watched(uuid.uuid4().hex)
    original_client = docker_runner.client

    def recording_client():
        return _RecordingEngine(original_client(), watched.ids)

    with mock.patch.object(docker_runner, "client", recording_client):
        yield watched


def grade(request, image: str = IMAGE) -> Watched:
    """Grade with the docker runner, timing it and tagging its container."""
    with recorded_containers() as watched:
        began = time.monotonic()
        watched.document = docker_runner.RUNNER.grade(dataclasses.replace(
            request, image=image, labels={**request.labels, TEST_LABEL: watched.tag}))
        watched.elapsed = time.monotonic() - began
    return watched


def remaining(engine, watched: Watched) -> list:
    """Containers with ``watched``'s tag that still exist (running or not)."""
    return engine.containers.list(all=True, filters={"label": f"{TEST_LABEL}={watched.tag}"},
                                  ignore_removed=True)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        fields = _read(f"/proc/{pid}/stat").rsplit(b")", 1)[-1].split()
        pid = int(fields[1]) if len(fields) > 1 else 0
    return pids


def host_processes(*, in_container: str | None = None, mentioning: str | None = None
                   ) -> list[tuple[int, str]]:
    """Processes of this machine (seen from the host's /proc) that belong to a container's
    cgroups, or whose command line mentions a text; this test's own processes left out."""
    mine = _ancestors()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in mine:
            continue
        cmdline = _read(f"/proc/{name}/cmdline").replace(b"\0", b" ").decode("utf-8", "replace")
        if not cmdline:
            continue  # a kernel thread, or gone
        if in_container and in_container.encode() in _read(f"/proc/{name}/cgroup"):
            found.append((int(name), cmdline))
        elif mentioning and mentioning in cmdline:
            found.append((int(name), cmdline))
    return found


def assert_nothing_left(engine, watched: Watched, mentioning: Path | str | None = None) -> None:
    """No container of the grade exists any more, and none of its processes runs."""
    ids = watched.ids
    assert ids, "the runner started no container"
    assert remaining(engine, watched) == [], "a grading container was left behind"
    import docker.errors
    for container_id in ids:
        try:
            engine.containers.get(container_id)
        except docker.errors.NotFound:
            pass
        else:
            raise AssertionError(f"container {container_id[:12]} was left behind")
        left = host_processes(in_container=container_id)
        assert left == [], f"processes of container {container_id[:12]} are still running: {left}"
    if mentioning:
        left = host_processes(mentioning=str(mentioning))
        assert left == [], f"processes mentioning {mentioning} are still running: {left}"
