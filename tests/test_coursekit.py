"""The course's own machine checks must catch what they claim to catch."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from coursekit.checks import check_bilingual, check_glossary, check_grading, check_outputs
from coursekit.lessons import Lesson
from coursekit.notebooks import coalesce_streams, complete_nbgrader, stamp_translations

LESSON = Lesson("09_example", "Example", "Ví dụ")


def md(text: str, tag: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text, metadata={"tags": [tag]})


def test_a_stamped_pair_passes_and_an_edited_english_cell_is_caught():
    nb = new_notebook(cells=[md("Gradients flow back.", "lang-en"), md("Gradient chảy ngược.", "lang-vi")])
    assert stamp_translations(nb) == 1
    assert check_bilingual(nb) == []
    nb.cells[0].source = "Gradients flow backwards."
    assert any("changed after it was translated" in problem for problem in check_bilingual(nb))


def test_rebuilding_keeps_old_stamps_so_a_stale_translation_stays_visible():
    nb = new_notebook(cells=[md("Gradients flow back.", "lang-en"), md("Gradient chảy ngược.", "lang-vi")])
    stamp_translations(nb)
    nb.cells[0].source = "Gradients flow backwards."
    assert stamp_translations(nb, only_new=True) == 0
    assert any("changed after it was translated" in problem for problem in check_bilingual(nb))
    nb.cells.append(md("A new paragraph.", "lang-en"))
    nb.cells.append(md("Một đoạn mới.", "lang-vi"))
    assert stamp_translations(nb, only_new=True) == 1


def test_missing_twin_untagged_cell_and_non_vietnamese_twin_are_caught():
    nb = new_notebook(cells=[md("Alone.", "lang-en"), new_markdown_cell("no tag")])
    problems = " ".join(check_bilingual(nb))
    assert "without a Vietnamese twin" in problems and "exactly one of" in problems
    nb = new_notebook(cells=[md("Hello.", "lang-en"), md("Hello again.", "lang-vi")])
    stamp_translations(nb)
    assert any("no Vietnamese letters" in problem for problem in check_bilingual(nb))


def test_glossary_terms_must_follow_their_vietnamese_form_even_across_lines():
    good = md("Ta dùng lan truyền ngược\n(*backpropagation*) ở đây.", "lang-vi")
    wrong = md("Ta dùng truyền lùi (*backpropagation*).", "lang-vi")
    unknown = md("Một từ lạ (*flux capacitor*).", "lang-vi")
    assert check_glossary(new_notebook(cells=[good])) == []
    assert "glossary form" in check_glossary(new_notebook(cells=[wrong]))[0]
    assert "not in GLOSSARY.md" in check_glossary(new_notebook(cells=[unknown]))[0]


def test_grading_rules_need_hidden_tests_points_and_two_test_cells():
    answer = new_code_cell(
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
        metadata={"nbgrader": complete_nbgrader({"solution": True, "grade_id": "a"})},
    )
    test = new_code_cell(
        "assert f() == 1",
        metadata={"nbgrader": complete_nbgrader({"grade": True, "grade_id": "t", "points": 1})},
    )
    problems = " ".join(check_grading(new_notebook(cells=[answer, test]), LESSON))
    assert "HIDDEN TESTS" in problems and "at least two test cells" in problems


def test_checked_cells_need_numbered_outputs_and_others_none():
    checked = new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)")
    noisy = new_code_cell("print(2)", outputs=[new_output("stream", name="stdout", text="2\n")])
    problems = " ".join(check_outputs(new_notebook(cells=[checked, noisy])))
    assert "no stored, numbered output" in problems and "does not check" in problems


def test_split_prints_are_joined_before_they_are_stored():
    pieces = [
        new_output("stream", name="stdout", text="images:"),
        new_output("stream", name="stdout", text=" 60000\n"),
    ]
    assert coalesce_streams(pieces) == [new_output("stream", name="stdout", text="images: 60000\n")]
