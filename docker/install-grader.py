"""Make the grader importable and its pytest plugin loadable inside the image.

Runs once at image build time, as root, with the grader package already copied
to /opt/grader/lib/grader and pyproject.toml next to it. It does what
`pip install` does on the host, without pip or setuptools and without fetching
anything:

- a .pth file in the interpreter's purelib directory puts /opt/grader/lib on
  sys.path (site processes .pth files also under `python3 -I`; for a user who
  cannot enter /opt/grader the path does not exist and is skipped);
- a <name>-<version>.dist-info folder with entry_points.txt, so pytest finds
  the plugin through the pytest11 entry point, as after `pip install`;
- a small launcher in /usr/local/bin for each [project.scripts] entry.

This file knows nothing about the grader's modules: names come from
pyproject.toml.
"""

import pathlib
import sys
import sysconfig

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

LIB = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/opt/grader/lib")
BIN = pathlib.Path("/usr/local/bin")


def main():
    project = tomllib.loads((LIB / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]

    purelib = pathlib.Path(sysconfig.get_paths()["purelib"])
    purelib.mkdir(parents=True, exist_ok=True)
    (purelib / "tcp_grader.pth").write_text(f"{LIB}\n")

    info = LIB / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "top_level.txt").write_text("grader\n")
    groups = {"console_scripts": project.get("scripts", {}),
              **project.get("entry-points", {})}
    lines = []
    for group, entries in groups.items():
        if entries:
            lines.append(f"[{group}]")
            lines += [f"{key} = {value}" for key, value in entries.items()]
            lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines))

    for script, target in project.get("scripts", {}).items():
        module, func = target.split(":")
        launcher = BIN / script
        launcher.write_text(
            "#!/bin/sh\n"
            f"exec python3 -I -c 'import sys; from {module} import {func}; "
            f"sys.argv[0] = \"{script}\"; sys.exit({func}())' \"$@\"\n")
        launcher.chmod(0o500)

    print(f"install-grader: {name} {version} on sys.path via {purelib}/tcp_grader.pth;"
          f" entry points: {', '.join(g for g, e in groups.items() if e)}")


if __name__ == "__main__":
    main()
