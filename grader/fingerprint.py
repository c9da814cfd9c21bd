"""The fingerprint of the grader's own code, so that two copies can prove they are the same.

Why: the docker runner grades with the grader installed in its image, and the image can be
older than the host's grader (built before an upgrade, or before a teacher edited a
helper). Checks written for one grader then fail to import in the other, which used to
look like a submission whose every check "ended abnormally". The host hands its
fingerprint to the session; a session whose own code differs refuses to grade and says
how to rebuild the image: a runner failure, never a grade.

The exercise's checks need no fingerprint: the docker runner brings them into the
container at run time, so they are always the host's.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
VARIABLE = "GRADER_FINGERPRINT"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of every source file of the installed grader package (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".ini") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
