"""tcp-grader: grades TCP socket-programming exercises by acting as the student's peer.

Data flows one way: submission -> runner -> session -> checks -> observations -> verdicts
-> results -> reports. The package has two halves and what they share:

- ``grader.host``: what runs on the grading machine: the command line, batches, the
  runners (local process or docker container) and the reports. It never observes a
  program itself.
- ``grader.session``: what runs inside one grading session: the pytest plugin, the
  program driver, the grader's TCP peers, the kernel's socket table, the steps and words
  checks are made of. It never knows which runner started it.
- shared: ``results`` (the one document between the halves), ``catalogue`` (the
  exercises and their checks), ``requirements`` (each statement's rules and the checks
  that prove them), ``language``, ``submission``, ``fingerprint``.
"""

__version__ = "0.1.0"
