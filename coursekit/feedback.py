"""Feedback pages that never show hidden tests or solutions, whatever the submission printed.

nbgrader's ``ClearHiddenTests`` removes hidden tests from the test cells' *source*; but code
can print a hidden test (read from the input history, a frame, a hook) into an *output*, and a
failed hidden assert's traceback quotes its line. So, for every feedback page:

- :class:`NeutralizeMarkers` defuses marker text a student typed in their own cells (it would
  otherwise make ``ClearHiddenTests`` fail and take the page down with it);
- :class:`HideTestSources` keeps only ``ename: evalue`` of a failed test cell's error;
- :class:`ScrubLeaks` replaces every line of any source or output that contains a hidden-test
  or solution line of the lesson (read from ``solutions/``) with a notice.

A submission that needs manual grading because of tampering gets no page until a human
regrades it: :func:`generate_all` skips it and says so.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from coursekit.cells import HIDDEN_MARKERS, SOLUTION_MARKERS, is_test
from coursekit.lessons import LESSONS, ROOT

NOTICE = "[hidden by the grader · đã ẩn bởi hệ thống chấm]"
MIN_SECRET = 12  # shorter lines (`return x`) say nothing specific


class HideTestSources(NbGraderPreprocessor):
    """Reduce the traceback of every failed graded cell to its error name and message.

    (An nbgrader preprocessor, because plain nbconvert ones are disabled unless configured.)
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


class NeutralizeMarkers(NbGraderPreprocessor):
    """Break up nbgrader's region markers in cells that are not test cells."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if not is_test(cell):
            for marker in (*HIDDEN_MARKERS, *SOLUTION_MARKERS):
                words = marker.lstrip("# ")
                cell.source = cell.source.replace(words, words.replace(" ", " \u00b7 "))
        return cell, resources


@cache
def region_lines(slug: str, markers: tuple[str, str]) -> frozenset[str]:
    """Lines inside ``markers`` regions of a lesson's solution that its student copy shows nowhere."""
    lesson = next((lesson for lesson in LESSONS if lesson.slug == slug), None)
    if lesson is None or not lesson.solution.is_file():
        return frozenset()
    public = ""  # text the student copy shows anyway: a line found in it gives nothing away
    if lesson.student.is_file():
        public = "\n".join(cell.source for cell in nbformat.read(lesson.student, as_version=4).cells)
    found = set()
    for cell in nbformat.read(lesson.solution, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            if markers[0] in line:
                inside = True
            elif markers[1] in line:
                inside = False
            elif inside and len(line.strip()) >= MIN_SECRET and line.strip() not in public:
                found.add(line.strip())
    return frozenset(found)


def hidden_lines(slug: str) -> frozenset[str]:
    return region_lines(slug, HIDDEN_MARKERS)


def solution_lines(slug: str) -> frozenset[str]:
    return region_lines(slug, SOLUTION_MARKERS)


def own_lines(nb: NotebookNode) -> set[str]:
    """What the student wrote in their answer cells: theirs to see, even where it equals the solution."""
    return {
        line.strip()
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
        for line in cell.source.splitlines()
    }


def page_secrets(slug: str, nb: NotebookNode) -> frozenset[str]:
    return hidden_lines(slug) | (solution_lines(slug) - own_lines(nb))


def scrub(text: str, secrets: frozenset[str]) -> tuple[str, int]:
    """``text`` with every line that contains a secret replaced by the notice; and how many."""
    lines = text.splitlines(keepends=True)
    hits = 0
    for index, line in enumerate(lines):
        if any(secret in line for secret in secrets):
            lines[index] = NOTICE + ("\n" if line.endswith("\n") else "")
            hits += 1
    return "".join(lines), hits


class ScrubLeaks(NbGraderPreprocessor):
    """Remove any line of a hidden test or solution from every source and output of the page."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        slug = resources.get("nbgrader", {}).get("assignment", "")
        secrets = page_secrets(slug, nb)
        if secrets:
            for cell in nb.cells:
                if not (is_test(cell) or cell.metadata.get("nbgrader", {}).get("solution")):
                    cell.source = scrub(cell.source, secrets)[0]
                for output in cell.get("outputs", []):
                    self._scrub_output(output, secrets)
        return nb, resources

    @staticmethod
    def _scrub_output(output: NotebookNode, secrets: frozenset[str]) -> None:
        if "text" in output:
            output["text"] = scrub(str(output["text"]), secrets)[0]
        for key in ("evalue", "ename"):
            if key in output:
                output[key] = scrub(str(output[key]), secrets)[0]
        if "traceback" in output:
            output["traceback"] = [scrub(str(line), secrets)[0] for line in output["traceback"]]
        for mime, value in list(output.get("data", {}).items()):
            if isinstance(value, str):
                output["data"][mime] = scrub(value, secrets)[0]
            elif mime.endswith("json"):
                output["data"][mime] = json.loads(scrub(json.dumps(value, indent=0), secrets)[0] or "null")


def generate_all(root: Path = ROOT) -> list[str]:
    """Feedback for every graded submission of every lesson that has any; one line per student.

    One nbgrader run per lesson; a student whose page is missing afterwards is retried alone, so
    one page that cannot be built never costs anyone else theirs.
    """
    from coursekit.grading import MANUAL, course_overrides, on_record
    from coursekit.release import run_nbgrader

    lines = []
    for lesson in LESSONS:
        students = sorted(
            p.parent.name
            for p in (root / "autograded").glob(f"*/{lesson.slug}")
            if p.is_dir() and not p.parent.name.startswith(".")
        )
        if not students:
            continue
        run = subprocess_safe(
            run_nbgrader, "generate_feedback", lesson.slug, "--force", *course_overrides(root)
        )
        for student in students:
            page = root / "feedback" / student / lesson.slug / f"{lesson.slug}.html"
            record = on_record(root, lesson.slug, student)
            if record is not None and record.status == MANUAL and "tampering" in record.detail:
                shutil.rmtree(page.parent, ignore_errors=True)
                lines.append(
                    f"{student:<20} {lesson.slug:<30} withheld: tampering detected, review by hand first"
                )
                continue
            if not page.is_file():
                retry = subprocess_safe(
                    run_nbgrader,
                    "generate_feedback",
                    lesson.slug,
                    "--student",
                    student,
                    "--force",
                    *course_overrides(root),
                )
                if not page.is_file():
                    lines.append(
                        f"{student:<20} {lesson.slug:<30} FAILED: {retry or run or 'no page written'}"
                    )
                    continue
            lines.append(f"{student:<20} {lesson.slug:<30} {page.relative_to(root)}")
    return lines


def subprocess_safe(function: Callable[..., object], *args: str) -> str:
    """Run an nbgrader step; return its failure as one line instead of raising."""
    try:
        function(*args)
    except RuntimeError as error:
        return str(error).strip().splitlines()[-1][:300]
    return ""
