"""Errors a runner reports instead of a grade (importable without the Docker SDK)."""


class EngineUnavailable(Exception):
    """The Docker engine cannot be reached (not installed, not running, no permission)."""
