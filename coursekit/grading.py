"""Autograde every submission and account for each one: graded, needs a human, or failed.

nbgrader can drop a submission whose grading crashed and still export that student with 0.0,
exactly like a real zero. Here every folder under ``submitted/<student>/<assignment>`` must end
with an autograded notebook and a gradebook entry; anything else is reported as FAILED and
makes the command exit non-zero, so no grading failure turns into a silent zero.
"""

from __future__ import annotations

import csv
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from coursekit.lessons import ROOT
from coursekit.release import NBGRADER, tool_environment


@dataclass(frozen=True)
class Outcome:
    student: str
    assignment: str
    status: str  # "graded", "needs manual grading" or "FAILED"
    score: float | None
    max_score: float | None
    detail: str = ""


def course_overrides(root: Path) -> list[str]:
    """Command-line settings that point nbgrader at another course folder (tests, dry runs)."""
    if root.resolve() == ROOT:
        return []
    return [f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url=sqlite:///{root / 'gradebook.db'}"]


def submissions(root: Path, assignments: list[str] | None = None) -> list[tuple[str, str]]:
    return sorted(
        (path.parent.name, path.name)
        for path in (root / "submitted").glob("*/*")
        if path.is_dir() and (assignments is None or path.name in assignments)
    )


def autograde(root: Path, assignment: str, *, force: bool) -> subprocess.CompletedProcess[str]:
    args = [*NBGRADER, "autograde", assignment, *course_overrides(root)]
    if force:
        args.append("--force")
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=tool_environment())


def outcome(root: Path, student: str, assignment: str, log: str) -> Outcome:
    autograded = list((root / "autograded" / student / assignment).glob("*.ipynb"))
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        try:
            submission = gb.find_submission(assignment, student)
            score, max_score, manual = submission.score, submission.max_score, submission.needs_manual_grade
        except MissingEntry:
            score = max_score = None
            manual = False
    if not autograded or score is None:
        lines = [line for line in log.splitlines() if student in line or "ERROR" in line]
        return Outcome(student, assignment, "FAILED", None, None, " | ".join(lines[-3:]) or "no result")
    if manual:
        return Outcome(
            student,
            assignment,
            "needs manual grading",
            score,
            max_score,
            "a test cell was deleted or changed, or a cell needs a human",
        )
    return Outcome(student, assignment, "graded", score, max_score)


def grade(root: Path = ROOT, assignments: list[str] | None = None, *, force: bool = False) -> list[Outcome]:
    """Autograde each assignment that has submissions, then account for every submission."""
    pairs = submissions(root, assignments)
    logs = {}
    for assignment in sorted({assignment for _, assignment in pairs}):
        result = autograde(root, assignment, force=force)
        logs[assignment] = result.stdout + result.stderr
    return [outcome(root, student, assignment, logs[assignment]) for student, assignment in pairs]


def outcomes_on_record(root: Path = ROOT, assignments: list[str] | None = None) -> list[Outcome]:
    """Account for every submission from what is already graded, without running nbgrader."""
    return [outcome(root, student, assignment, "") for student, assignment in submissions(root, assignments)]


def write_csv(outcomes: list[Outcome], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "status", "score", "max_score", "detail"])
        for row in outcomes:
            writer.writerow([row.student, row.assignment, row.status, row.score, row.max_score, row.detail])


def report(outcomes: list[Outcome]) -> str:
    lines = [f"{'student':<20} {'assignment':<26} {'score':>11}  status"]
    for row in outcomes:
        score = "—" if row.score is None else f"{row.score:g}/{row.max_score:g}"
        line = f"{row.student:<20} {row.assignment:<26} {score:>11}  {row.status} {row.detail}"
        lines.append(line.rstrip())
    return "\n".join(lines)
