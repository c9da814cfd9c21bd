"""Proofs that an exercise grades right, both ways: ``grader verify`` and the project's own
verdict tests (``tests/test_verdicts.py``) use these same functions.

What is proved, for one exercise and its answers (``answers``: reference, correct and
faulty programs beside the exercises folder):

- the statement (``README.md``, ``README.zh.md``) names every check;
- every starter is the file whose digest ``exercise.toml`` gives (so an unchanged starter
  is reported as not started);
- the reference scores full marks;
- every correct program passes every check of the programs it holds;
- every check has a faulty program, and each faulty program fails its check (0 points,
  with feedback), whatever else it fails;
- every failed check says what it observed (its feedback is not empty).

Rule 1: the judgements (``judge``, ``coverage``, ``starter_problems``,
``statement_problems``) read documents, catalogue entries and files, and return the
problems they found as sentences; an empty list is a proof. They never grade.
Rule 2: grading goes through the runners, exactly as ``grader check`` grades (``grade``).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import requirements, results
from ..catalogue import CatalogueError, Exercise
from . import answers as layout
from .answers import Case
from .report import points
from .runners import DEFAULT_IMAGE, SESSION_TIMEOUT, GradeRequest, get_runner

FEEDBACK_LINES = 3  # of a check's feedback, quoted in a problem


def _quoted(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()][:FEEDBACK_LINES]
    return " / ".join(line.strip() for line in lines) or "(no feedback)"


def _not_passed(document: dict) -> dict[str, dict]:
    return {test["check"]: test for test in document["tests"] if test["status"] != "passed"}


# -- judgements ---------------------------------------------------------------------------

def judge(case: Case, document: dict) -> list[str]:
    """What is wrong with the grade ``document`` of ``case`` (nothing: the case holds)."""
    if not results.is_grade(document):
        return [f"not graded: {document.get(results.RUNNER_ERROR)}"]
    problems = [f"{test['check']} failed without saying what it observed (empty feedback)"
                for test in document["tests"]
                if test["status"] == "failed" and not test.get("output", "").strip()]
    if case.kind == "reference":
        problems += _judge_full_marks(case, document)
    elif case.kind == "correct":
        problems += _judge_correct(case, document)
    else:
        problems += _judge_faulty(case, document)
    return problems


def _judge_full_marks(case: Case, document: dict) -> list[str]:
    problems = [f"{check} {test['status']}: {_quoted(test.get('output', ''))}"
                for check, test in _not_passed(document).items()]
    possible = case.exercise.max_points()
    if document["score"] != possible or document["max_score"] != possible:
        problems.append(f"scored {points(document['score'])}/{points(document['max_score'])}, "
                        f"not {points(possible)}/{points(possible)}")
    return problems


def _judge_correct(case: Case, document: dict) -> list[str]:
    present = case.programs()
    if not present:
        return [f"{case.folder} holds none of the programs {', '.join(case.exercise.programs)}"]
    return [f"{check} {test['status']}: {_quoted(test.get('output', ''))}"
            for check, test in _not_passed(document).items() if test.get("program") in present]


def _judge_faulty(case: Case, document: dict) -> list[str]:
    checks = {test["check"]: test for test in document["tests"]}
    target = checks.get(case.target)
    if target is None:
        return [f"{case.target} is not a check of {case.exercise.exercise_id} (the folder's "
                f"name must be the check it fails)"]
    problems = []
    if target["status"] != "failed":
        problems.append(f"{case.target} {target['status']}, but this program was made to "
                        f"fail it")
    elif target["score"] != 0:
        problems.append(f"{case.target} failed with {points(target['score'])} points, not 0")
    if document["score"] >= document["max_score"]:
        problems.append("it lost no points")
    return problems


def coverage(exercise: Exercise, faulty: list[Case]) -> list[str]:
    """Checks without a faulty program, and faulty folders that name no check."""
    known = {check.check_id for check in exercise.checks()}
    mine = [case for case in faulty if case.exercise == exercise]
    covered = {case.target for case in mine}
    problems = []
    for check in exercise.checks():
        if check.check_id not in covered:
            where = f"tests/faulty/{exercise.exercise_id}/{check.check_id}/"
            problems.append(f"no faulty program for {check.check_id}: write one in {where}")
    problems += [f"{case.id} names no check of {exercise.exercise_id}"
                 for case in mine if case.target not in known]
    return problems


def starter_problems(exercise: Exercise) -> list[str]:
    """Each program's starter must be there, with its digest in ``exercise.toml``."""
    problems = []
    for program in exercise.programs:
        path = exercise.folder / program
        if not path.is_file():
            problems.append(f"the starter {program} is missing from {exercise.folder}")
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        written = exercise.starter_digest(program)
        if written != digest:
            what = "has no digest" if written is None else "has another digest"
            problems.append(f"exercise.toml {what} for {program}: under [starters] write "
                            f'"{program}" = "{digest}"')
    return problems


def statement_problems(exercise: Exercise) -> list[str]:
    """Both statements' requirement tables must name every check, with its points, and
    every rule a check (``grader.requirements``), so a student can find each rule's check."""
    checks = {check.check_id: check.points for check in exercise.checks()}
    return requirements.problems(exercise.folder, checks, exercise.max_points())


# -- grade, then judge: grader verify -----------------------------------------------------------

@dataclass
class Proof:
    kind: str  # statement, starters, reference, correct, faulty, coverage
    subject: str
    problems: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def holds(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Options:
    runner: str = "local"
    lang: str = "en"
    jobs: int = 1
    timeout: float = SESSION_TIMEOUT
    image: str = DEFAULT_IMAGE


def grade(case: Case, options: Options) -> dict:
    return get_runner(options.runner).grade(GradeRequest(
        case.exercise, case.folder, options.lang, options.timeout, options.image))


def verify(exercise: Exercise, answers: Path, options: Options = Options()) -> list[Proof]:
    """Every proof for ``exercise``, its programs graded ``options.jobs`` at a time."""
    try:
        exercise.checks()
    except CatalogueError as error:
        return [Proof("checks", str(exercise.checks_folder), [str(error)])]
    proofs = [Proof("statement", " and ".join(requirements.STATEMENTS.values()),
                    statement_problems(exercise),
                    "name every check"),
              Proof("starters", ", ".join(exercise.programs) or "(no programs)",
                    starter_problems(exercise), "the digests exercise.toml gives")]
    cases = layout.all_cases([exercise], answers)
    reference = layout.reference_folder(answers, exercise.exercise_id)
    if not any(case.kind == "reference" for case in cases):
        proofs.append(Proof("reference", _short(reference, answers),
                            [f"no reference: write one in {reference}/"]))
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        documents = list(pool.map(lambda case: grade(case, options), cases))
    for case, document in zip(cases, documents):
        proofs.append(Proof(case.kind, _short(case.folder, answers), judge(case, document),
                            _summary(case, document)))
    faulty = [case for case in cases if case.kind == "faulty"]
    count = len(exercise.checks())
    proofs.append(Proof("coverage", f"{count} check{'' if count == 1 else 's'}",
                        coverage(exercise, faulty), "every check has a faulty program"))
    return proofs


def _short(folder: Path, answers: Path) -> str:
    try:
        return str(folder.relative_to(answers))
    except ValueError:
        return str(folder)


def _summary(case: Case, document: dict) -> str:
    if not results.is_grade(document):
        return "not graded"
    score = f"{points(document['score'])}/{points(document['max_score'])}"
    if case.kind != "faulty":
        return score
    others = [check for check in _not_passed(document) if check != case.target]
    also = f"; also fails {', '.join(others)}" if others else ""
    return f"fails {case.target}, {score} in all{also}"


def format_report(exercise: Exercise, answers: Path, proofs: list[Proof]) -> str:
    lines = [f"grader verify {exercise.exercise_id}: {exercise.title}",
             f"  exercise: {exercise.folder}",
             f"  answers:  {answers} (reference/, tests/correct/, tests/faulty/)", ""]
    width = max(len(proof.kind) for proof in proofs)
    for proof in proofs:
        mark = "ok  " if proof.holds else "FAIL"
        detail = f": {proof.detail}" if proof.detail and proof.holds else ""
        lines.append(f"  {mark}  {proof.kind:{width}}  {proof.subject}{detail}")
        lines += [f"  {'':4}  {'':{width}}    - {problem}" for problem in proof.problems]
    failed = sum(not proof.holds for proof in proofs)
    lines.append("")
    lines.append(f"verified: all {len(proofs)} proofs hold" if not failed else
                 f"NOT verified: {failed} of {len(proofs)} proofs failed")
    return "\n".join(lines) + "\n"
