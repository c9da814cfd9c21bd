"""tcp-grader: grades TCP socket-programming exercises by acting as the student's peer.

Data flows one way: submission -> runner -> checks -> observations -> verdicts -> reports.
The modules follow that flow: ``catalogue`` (which exercises exist), ``program`` (driving a
student program), ``peers`` and ``events`` (the grader's TCP peers and what they saw),
``kernel`` and ``procinfo`` (what the kernel saw), ``verdict`` (checks, points, feedback),
``plugin`` (the pytest glue), ``report`` (tables, JSON, JUnit) and ``runners`` (local or docker).
"""

__version__ = "0.1.0"
