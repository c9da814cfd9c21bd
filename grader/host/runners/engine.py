"""The Docker engine as the runners see it: a client, and removal of labelled containers.

Shared by the docker runner (which starts containers) and the reaper (which removes those
a killed grader left), so that neither imports the other. Importable without the Docker
SDK: the SDK is imported when a client is asked for.
"""

from __future__ import annotations

from . import RunnerUnavailable

LABEL = "tcp-grader"
OWNER_LABEL = f"{LABEL}.owner"


class EngineUnavailable(RunnerUnavailable):
    """The Docker engine cannot be reached (not installed, not running, no permission)."""


def client():
    try:
        import docker
    except ImportError as error:
        raise EngineUnavailable("the Docker SDK for Python is not installed "
                                "(pip install 'tcp-grader[docker]')") from error
    try:
        engine = docker.from_env(timeout=30)
        engine.ping()
    except Exception as error:  # the SDK raises several kinds for an unreachable engine
        raise EngineUnavailable(f"cannot reach the Docker engine: {error}") from error
    return engine


def remove_container(container) -> None:
    try:
        container.remove(force=True)
    except Exception:
        pass  # already gone; a sweep by label catches anything left


def remove_labelled(engine, label: str) -> int:
    """Remove every container carrying ``label`` (``key`` or ``key=value``)."""
    try:
        # ignore_removed: a container removed while listed (another grader's) is no error
        stale = engine.containers.list(all=True, filters={"label": label}, ignore_removed=True)
    except Exception:
        return 0  # the engine went away; nothing more can be done from here
    for container in stale:
        remove_container(container)
    return len(stale)
