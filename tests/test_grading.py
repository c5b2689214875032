"""End to end, as an instructor grades: release → submit → autograde → gradebook → feedback.

Every lesson, in the sandbox: the instructor's solution must earn full marks (the grader's
calibration run, which refuses to grade a lesson whose solution fails), the untouched student
copy zero, a broken submission must be reported (never a silent zero), and feedback must not
reveal hidden tests. Hostile submissions: tests/test_adversarial.py. These tests execute
notebooks: they take minutes, not seconds.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from coursekit.cells import HIDDEN_MARKERS, is_test, nbgrader
from coursekit.grading import Settings, calibrate, course_overrides, grade
from coursekit.lessons import LESSONS, ROOT, Lesson
from coursekit.release import run_nbgrader

GRADED = [lesson for lesson in LESSONS if lesson.graded]
pytestmark = pytest.mark.slow


def total_points(lesson: Lesson) -> float:
    nb = nbformat.read(lesson.solution, as_version=4)
    return sum(nbgrader(cell)["points"] for cell in nb.cells if is_test(cell))


def hidden_lines(lesson: Lesson) -> list[str]:
    """Source lines of the hidden tests that are specific enough to recognise in a page."""
    lines = []
    for cell in nbformat.read(lesson.solution, as_version=4).cells:
        if not is_test(cell):
            continue
        inside = False
        for line in cell.source.splitlines():
            if HIDDEN_MARKERS[0] in line:
                inside = True
            elif HIDDEN_MARKERS[1] in line:
                inside = False
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
    return lines


def make_course(root: Path, lesson: Lesson) -> Path:
    """A throw-away course folder holding a copy of one lesson, released with its own gradebook.

    One course per lesson: a lesson is graded exactly as it stands, whatever state the others are in.
    """
    shutil.copytree(
        lesson.solution.parent,
        root / "solutions" / lesson.slug,
        ignore=shutil.ignore_patterns("models", "*.pt", ".ipynb_checkpoints"),
    )
    run_nbgrader("generate_assignment", lesson.slug, "--force", *course_overrides(root))
    return root


def submit(root: Path, student: str, lesson: Lesson, notebook: Path) -> None:
    target = root / "submitted" / student / lesson.slug
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, target / f"{lesson.slug}.ipynb")


@pytest.mark.parametrize("lesson", GRADED, ids=[lesson.slug for lesson in GRADED])
def test_solution_gets_full_marks_blank_gets_zero_and_feedback_hides_tests(tmp_path: Path, lesson: Lesson):
    course = make_course(tmp_path, lesson)
    submit(course, "blank", lesson, course / "notebooks" / lesson.slug / f"{lesson.slug}.ipynb")
    settings = Settings(root=course, jobs=1, calibration_dir=ROOT / "build" / "calibration")

    results = {row.student: row for row in grade(course, [lesson.slug], settings=settings)}

    points = total_points(lesson)
    assert points > 0
    calibration = calibrate(lesson, tmp_path / "calibration-check", settings)  # cached: the run above
    assert calibration.max_score == points, "the solution earns every point in the sandbox"
    assert results["blank"].status == "graded", results["blank"]
    assert (results["blank"].score, results["blank"].max_score) == (0, points)
    # The student copy fails its own tests (what `nbgrader validate --invert` checked, run once more):
    # every test cell of the blank copy, run in the sandbox, ends in an error.
    autograded = course / "autograded" / "blank" / lesson.slug / f"{lesson.slug}.ipynb"
    graded = nbformat.read(autograded, as_version=4)
    passing = [
        nbgrader(cell)["grade_id"]
        for cell in graded.cells
        if is_test(cell) and not any(out.get("output_type") == "error" for out in cell.get("outputs", []))
    ]
    assert not passing, f"test cells the untouched student copy passes: {passing}"

    run_nbgrader("generate_feedback", lesson.slug, "--force", *course_overrides(course))
    visible = visible_lines(lesson)
    for student in ("blank",):
        text = page_text(course / "feedback" / student / lesson.slug / f"{lesson.slug}.html")
        assert any(line in text for line in visible), "control: the visible tests must show in feedback"
        # A line that also stands in the visible tests proves nothing either way.
        leaked = [line for line in hidden_lines(lesson) if line in text and line not in visible]
        assert not leaked, f"feedback for {student} shows hidden tests: {leaked[:3]}"
        assert "BEGIN HIDDEN TESTS" not in text


def page_text(path: Path) -> str:
    """What a reader of the HTML page sees: tags (syntax highlighting included) removed."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def visible_lines(lesson: Lesson) -> list[str]:
    nb = nbformat.read(lesson.solution, as_version=4)
    return [
        line.strip()
        for cell in nb.cells
        if is_test(cell)
        for line in cell.source.split(HIDDEN_MARKERS[0])[0].splitlines()
        if len(line.strip()) > 25
    ]


def test_a_submission_that_cannot_be_graded_is_reported_not_zeroed(tmp_path: Path):
    lesson = GRADED[0]
    course = make_course(tmp_path, lesson)
    broken = course / "broken.ipynb"
    broken.write_text("{ this is not a notebook")
    submit(course, "broken", lesson, broken)
    results = {row.student: row for row in grade(course, [lesson.slug])}
    assert results["broken"].status == "FAILED"
    assert results["broken"].score is None
