"""How ``nbgrader generate_assignment`` turns a solution into the student copy, beyond its defaults.

Registered in ``nbgrader_config.py``:

- **Reference outputs.** A ``# NBVAL_CHECK_OUTPUT`` cell keeps its stored output in the student
  copy, so the learner sees what running it must print (lesson 00 promises this). nbgrader's
  ``ClearOutput`` strips every output; :class:`KeepReferenceOutputs` replaces it. An answer or
  test cell never keeps an output, checked or not: the solution produced it.
- **Stubs.** nbgrader's ``ClearSolutions.code_stub`` is one text per kernel language, with no
  way to say which exercise it stands for. :data:`CODE_STUB` carries a ``{exercise}``
  placeholder that :class:`NameExerciseStubs` fills in from the cell's ``grade_id``.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode
from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearOutput, ClearSolutions, NbGraderPreprocessor

from coursekit.cells import is_answer, is_checked, is_test, nbgrader

EXERCISE = "{exercise}"
CODE_STUB = f"""\
# YOUR CODE HERE / VIẾT MÃ CỦA BẠN Ở ĐÂY
raise NotImplementedError(
    "Exercise {EXERCISE} is not done yet: replace this stub with your code. The cells below the "
    "one that failed did not run (Run All stops at the first error). / "
    "Bài tập {EXERCISE} chưa được làm: hãy thay đoạn mã này bằng mã của bạn. Các ô bên dưới "
    "ô bị lỗi chưa được chạy (Run All dừng ở lỗi đầu tiên)."
)"""


def keeps_reference_output(cell: NotebookNode) -> bool:
    """A checked cell keeps its output, unless it is an answer or test cell (solution output)."""
    return is_checked(cell) and not is_answer(cell) and not is_test(cell)


def exercise_label(grade_id: str) -> str:
    """``ex2_answer`` → ``2``; any other id is quoted as it is, so the message still names it."""
    match = re.fullmatch(r"ex(\d+)(?:_\w+)?", grade_id)
    return match.group(1) if match else repr(grade_id)


class KeepReferenceOutputs(ClearOutput):
    """``ClearOutput``, except for the reference outputs of ``# NBVAL_CHECK_OUTPUT`` cells."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if keeps_reference_output(cell):
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


class NameExerciseStubs(NbGraderPreprocessor):
    """Put the exercise's number into the stub that ``ClearSolutions`` left in an answer cell."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if is_answer(cell) and cell.cell_type == "code" and EXERCISE in cell.source:
            cell.source = cell.source.replace(EXERCISE, exercise_label(nbgrader(cell)["grade_id"]))
        return cell, resources


def student_copy_preprocessors() -> list[type]:
    """nbgrader's own pipeline, with the two changes above; fail loudly if nbgrader reshuffled it."""
    steps = list(GenerateAssignment.class_traits()["preprocessors"].default())
    if ClearOutput not in steps or ClearSolutions not in steps:
        raise RuntimeError(f"nbgrader's generate_assignment pipeline changed: {steps}")
    steps[steps.index(ClearOutput)] = KeepReferenceOutputs
    steps.insert(steps.index(ClearSolutions) + 1, NameExerciseStubs)
    return steps
