"""The instructor's gradebook: register lessons in it, and copy one graded submission into it.

Each submission is autograded in a scratch course with a gradebook of its own (so submissions
can be graded in parallel and none can touch another's records); the trusted parent process
then copies the result into the course's gradebook with :func:`import_submission`, one at a time.
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from coursekit.lessons import Lesson
from coursekit.release import run_nbgrader


def db_url(root: Path) -> str:
    return f"sqlite:///{root / 'gradebook.db'}"


def register(lesson: Lesson, course: Path, release_dir: Path) -> None:
    """Record ``lesson``'s cells (visible and hidden tests) in ``course``'s gradebook.

    The release goes to ``release_dir``, so grading never rewrites the committed ``notebooks/``.
    ``course`` must hold ``solutions/<slug>/`` (the repository does; a scratch course gets a copy).
    """
    run_nbgrader(
        "generate_assignment",
        lesson.slug,
        "--force",
        f"--CourseDirectory.root={course}",
        f"--CourseDirectory.db_url={db_url(course)}",
        f"--CourseDirectory.release_directory={release_dir}",
    )


def template_course(lesson: Lesson, folder: Path) -> Path:
    """A course holding only ``lesson``'s source and a gradebook with it and no student."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(
        lesson.solution.parent,
        folder / "solutions" / lesson.slug,
        ignore=shutil.ignore_patterns("models", "*.pt", "*.pth", ".ipynb_checkpoints", "__pycache__"),
    )
    register(lesson, folder, folder / "release")
    return folder


def import_submission(
    main: Path, scratch: Path, lesson: str, student: str, *, needs_human: bool, timestamp: datetime | None
) -> None:
    """Copy the scratch gradebook's grades for one submission into the main gradebook."""
    with (
        Gradebook(db_url(scratch)) as source,
        Gradebook(db_url(main)) as target,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes on nbgrader's own models
        graded = source.find_submission(lesson, student)
        target.update_or_create_student(student)
        target.update_or_create_submission(lesson, student, timestamp=timestamp or graded.timestamp)
        for notebook in graded.notebooks:
            copy = target.find_submission_notebook(notebook.name, lesson, student)
            copy.flagged = notebook.flagged or needs_human
            copy.late_submission_penalty = notebook.late_submission_penalty
            for grade in notebook.grades:
                row = target.find_grade(grade.name, notebook.name, lesson, student)
                row.auto_score = grade.auto_score
                row.needs_manual_grade = grade.needs_manual_grade or needs_human
            for comment in notebook.comments:
                row = target.find_comment(comment.name, notebook.name, lesson, student)
                row.auto_comment = comment.auto_comment
        target.db.commit()


def forget_submission(main: Path, lesson: str, student: str) -> None:
    """Drop a stale result: a submission that could not be graded now has no score on record."""
    with Gradebook(db_url(main)) as gradebook, contextlib.suppress(MissingEntry):
        gradebook.remove_submission(lesson, student)


def scores(main: Path, lesson: str, student: str) -> tuple[float, float, bool]:
    with Gradebook(db_url(main)) as gradebook:
        submission = gradebook.find_submission(lesson, student)
        return submission.score, submission.max_score, submission.needs_manual_grade
