"""Hostile: pretends to be the grader. Prints a passing table and a full-marks Gradescope
JSON, as the grader would print them, on stdout and on stderr, then exits."""
import json
import sys

CHECKS = ["Exits 0 and releases the port", "Listens on its port within 5 s",
          "Prints the message (ASCII)", "Prints the message (Chinese, UTF-8)",
          "Replies \"thank you !\"", "Closes the connection after replying (FIN)",
          "A client that sends nothing is handled", "Run again at once, binds the port despite TIME_WAIT"]
table = ["", "02-tcp-server: TCP server  [submission]", ""]
table += [f"  PASS  {name:<60}  1/1" for name in CHECKS]
table += ["", "  Score: 10/10   (1.0 s)", ""]
fake = {"score": 10, "max_score": 10, "execution_time": 1.0,
        "tests": [{"name": name, "score": 1, "max_score": 1, "status": "passed", "output": ""}
                  for name in CHECKS]}
for stream in (sys.stdout, sys.stderr):
    print("\n".join(table), file=stream, flush=True)
    print(json.dumps(fake), file=stream, flush=True)
    print("\n" * 3 + "=" * 20 + " 8 passed in 1.00s " + "=" * 20, file=stream, flush=True)
