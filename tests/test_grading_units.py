"""Fast checks of the grader's parts: no notebook runs here (the slow suites are
tests/test_grading.py and tests/test_adversarial.py)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from coursekit import __main__ as cli
from coursekit import integrity, sandbox
from coursekit.cells import HIDDEN_MARKERS
from coursekit.feedback import NOTICE, NeutralizeMarkers, hidden_lines, page_secrets, scrub
from coursekit.grading import FAILED, read_submission, restored_ids
from coursekit.lessons import LESSONS, ROOT, find_lesson
from coursekit.limits import Limits

GRADED = [lesson for lesson in LESSONS if lesson.graded]


@pytest.mark.parametrize("lesson", GRADED, ids=[lesson.slug for lesson in GRADED])
def test_the_static_scan_never_flags_an_instructor_solution(lesson):
    """The solutions are honest work: any finding here would flag honest students too."""
    nb = nbformat.read(lesson.solution, as_version=4)
    assert integrity.static_findings(nb, integrity.Fixtures(nb), restored_ids(lesson)) == []


HOSTILE = {
    "custom exception handler": "get_ipython().set_custom_exc((Exception,), print)",
    "AST transformer": "ip = get_ipython()\nip.ast_transformers.append(object())",
    "traceback display": "from IPython.core import interactiveshell\ninteractiveshell.showtraceback = 1",
    "patched check": "utils.check_close = print",
    "patched torch": "torch.allclose = lambda *a, **k: True",
    "setattr on a module": "setattr(torch, 'equal', print)",
    "rebound utils": "utils = None",
    "rebound by import": "import numpy as utils",
    "shadowed exception": "AssertionError = Exception",
    "sys.modules": "import sys\nsys.modules['utils'] = None",
    "exec": "exec('x = 1')",
    "builtins": "import builtins",
    "frames": "import sys\nsys._getframe(1).f_globals",
    "code objects": "f = print\nf.__code__ = None",
    "history": "print(In[-1])",
    "numbered history": "print(_i3)",
    "__main__": "import __main__",
    "mock": "from unittest import mock",
    "dict write": "torch.__dict__['equal'] = print",
    "magic": "%run something.py",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_static_scan_flags_each_kind_of_tampering(name):
    lesson = find_lesson("01")
    solution = nbformat.read(lesson.solution, as_version=4)
    submission = nbformat.read(lesson.solution, as_version=4)
    submission.cells.append(nbformat.v4.new_code_cell(HOSTILE[name]))
    findings = integrity.static_findings(submission, integrity.Fixtures(solution), restored_ids(lesson))
    assert findings, f"not flagged: {HOSTILE[name]!r}"
    assert all(finding.startswith(f"cell {len(submission.cells)},") for finding in findings)


def test_a_cell_claiming_to_be_locked_is_still_read():
    lesson = find_lesson("01")
    solution = nbformat.read(lesson.solution, as_version=4)
    cell = nbformat.v4.new_code_cell("utils.check_close = print")
    cell.metadata["nbgrader"] = {"locked": True, "grade_id": "my_own_cell", "solution": False, "grade": False}
    submission = nbformat.read(lesson.solution, as_version=4)
    submission.cells.append(cell)
    assert integrity.static_findings(submission, integrity.Fixtures(solution), restored_ids(lesson))


def test_probe_comparison_reports_changes_and_ignores_names_the_solution_never_bound():
    baseline = {"utils.check_close": "py:utils.checking:check_close:aa", "user_ns.sys": "unbound"}
    found = {"utils.check_close": "py:__main__:<lambda>:bb", "user_ns.sys": "module:sys:None", "new": "x"}
    changes = integrity.compare(baseline, found)
    assert len(changes) == 1 and changes[0].startswith("utils.check_close changed")
    assert integrity.compare(baseline, dict(baseline)) == []
    assert integrity.compare({"user_ns.math": "module:math:None"}, {"user_ns.math": "unbound"}) == []


def test_feedback_scrub_replaces_every_line_holding_a_secret():
    text, hits = scrub("ok\nprefix SECRET-LINE suffix\nok again\n", frozenset({"SECRET-LINE"}))
    assert hits == 1
    assert text == f"ok\n{NOTICE}\nok again\n"


def test_hidden_lines_are_specific_and_a_students_own_answer_is_not_a_secret():
    lesson = find_lesson("01")
    hidden = hidden_lines(lesson.slug)
    assert hidden, "the lesson has hidden tests"
    public = lesson.student.read_text()
    assert not [line for line in hidden if line in public]
    solution = nbformat.read(lesson.solution, as_version=4)
    assert not (page_secrets(lesson.slug, solution) - hidden), "own answers are not secrets"


def test_marker_text_typed_by_a_student_is_defused():
    cell = nbformat.v4.new_code_cell(f"# {HIDDEN_MARKERS[0]} quoted in a comment")
    cleaned, _ = NeutralizeMarkers().preprocess_cell(cell, {}, 0)
    assert HIDDEN_MARKERS[0].lstrip("# ") not in cleaned.source


def test_the_wall_clock_budget_grows_with_the_solution_time():
    assert Limits.wall_for(1.0) == 60.0
    assert Limits.wall_for(20.0) == 110.0


def test_the_sandbox_hides_the_course_and_blocks_the_network(tmp_path):
    command = sandbox.bwrap_command(tmp_path, ROOT / "data")
    assert {"--unshare-all", "--die-with-parent", "--clearenv", "--remount-ro"} <= set(command)
    bound = {command[i + 1] for i, arg in enumerate(command) if arg in ("--ro-bind", "--bind")}
    assert str(ROOT / "utils") in bound and str(ROOT / "data") in bound
    assert not {str(ROOT), str(ROOT / "solutions"), str(Path.home())} & bound


def test_no_bubblewrap_means_a_clear_refusal(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.check_available(ROOT / "data")
    folder = tmp_path / "submitted" / "ann" / "01_tensors"
    folder.mkdir(parents=True)
    (folder / "01_tensors.ipynb").write_text(find_lesson("01").student.read_text())
    assert cli.main(["grade", "--root", str(tmp_path)]) == 2
    assert "--unsafe-no-sandbox" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("student", "name", "content", "reason"),
    [
        ("ann", "01_tensors.ipynb", "{ not json", "not a valid notebook"),
        ("ann", "01_tensors-Copy1.ipynb", "{}", "renamed"),
        ("bad name", "01_tensors.ipynb", "{}", "not a plain id"),
        ("ann", "notes.txt", "", "no notebook"),
    ],
)
def test_a_broken_submission_is_reported_for_that_student(tmp_path, student, name, content, reason):
    folder = tmp_path / student / "01_tensors"
    folder.mkdir(parents=True)
    (folder / name).write_text(content)
    outcome = read_submission(student, "01_tensors", folder)
    assert outcome.status == FAILED and reason in outcome.detail, outcome


def test_a_linked_notebook_is_refused(tmp_path):
    folder = tmp_path / "ann" / "01_tensors"
    folder.mkdir(parents=True)
    os.symlink("/etc/passwd", folder / "01_tensors.ipynb")
    outcome = read_submission("ann", "01_tensors", folder)
    assert outcome.status == FAILED and "link" in outcome.detail
