"""The layout the README promises: the host side, the session side and the documents
between them, with imports running one way and no cycles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cases import TOP

PACKAGE = TOP / "grader"
SHARED = {"grader", "grader.__main__", "grader.catalogue", "grader.fingerprint",
          "grader.language", "grader.results", "grader.submission", "grader.wire"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(TOP).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The grader modules a file imports, at its top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {module for module in found if module in MODULES and module != name}


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def test_the_session_never_imports_the_host():
    for name, imported in GRAPH.items():
        if name.startswith("grader.session"):
            assert not {m for m in imported if m.startswith("grader.host")}, name


def test_what_both_halves_share_imports_neither():
    for name in SHARED:
        halves = {m for m in GRAPH[name] if m.startswith(("grader.host", "grader.session"))}
        if name == "grader.__main__":
            halves -= {"grader.host.cli"}  # `python -m grader` is the command line
        assert not halves, f"{name} imports {halves}"


def test_no_import_cycles():
    def visit(name: str, path: list[str]) -> None:
        for imported in GRAPH[name]:
            assert imported not in path, " -> ".join(path + [imported])
            if imported not in done:
                visit(imported, path + [imported])
        done.add(name)

    done: set[str] = set()
    for name in GRAPH:
        visit(name, [name])


def test_only_the_runners_know_which_runner_runs():
    asks = re.compile(r"""==\s*["'](docker|local)["']|["'](docker|local)["']\s*==""")
    for path in list(PACKAGE.rglob("*.py")) + list((TOP / "bench").glob("*.py")) \
            + list((TOP / "tests").glob("*.py")):
        if PACKAGE / "host" / "runners" in path.parents:
            continue
        assert not asks.search(path.read_text(encoding="utf-8")), path


def test_the_readme_names_every_module():
    readme = (TOP / "README.md").read_text(encoding="utf-8")
    for name, path in MODULES.items():
        if path.name in ("__init__.py", "__main__.py") and name != "grader.session":
            continue
        relative = path.relative_to(PACKAGE).as_posix()
        assert f"`{relative}`" in readme or f"`{path.name}`" in readme, relative


def test_the_command_docstring_lists_every_command():
    from grader.host import cli
    commands = cli.build_parser()._subparsers._group_actions[0].choices
    for command in commands:
        assert f"grader {command}" in cli.__doc__, command


def test_every_check_reads_in_one_screen():
    """A check is the observation and its verdict; the wording lives in
    grader/session/feedback.py and shared steps in grader/session/steps.py."""
    for path in sorted((TOP / "exercises").glob("*/checks/test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and any(
                    "mark.check" in ast.unparse(decorator) for decorator in node.decorator_list):
                length = node.end_lineno - node.lineno + 1
                assert length < 40, f"{path.relative_to(TOP)}: {node.name} has {length} lines"
