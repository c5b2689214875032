"""Fast checks of the course as a whole: every lesson present, checked, released, no leaks."""

from __future__ import annotations

import json
import re
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader.preprocessors import ClearOutput, ClearSolutions

from coursekit.cells import (
    CHECK_OUTPUT,
    HIDDEN_MARKERS,
    SOLUTION_MARKERS,
    is_answer,
    is_checked,
    is_test,
    nbgrader,
)
from coursekit.checks import check_lesson
from coursekit.lessons import LESSONS, ROOT, Lesson
from coursekit.notebooks import complete_nbgrader
from coursekit.release import release_differences
from coursekit.student_copy import (
    CODE_STUB,
    EXERCISE,
    KeepReferenceOutputs,
    NameExerciseStubs,
    exercise_label,
    keeps_reference_output,
    student_copy_preprocessors,
)

IDS = [lesson.slug for lesson in LESSONS]
GRADED = [lesson for lesson in LESSONS if lesson.graded]


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_lesson_exists_in_both_forms(lesson: Lesson):
    assert lesson.solution.is_file(), f"missing instructor source {lesson.solution}"
    assert lesson.student.is_file(), f"missing student copy {lesson.student}: run `make release`"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_solution_passes_course_checks(lesson: Lesson):
    """Structure, nbgrader cells, bilingual pairs up to date, glossary terms."""
    problems = check_lesson(lesson)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_student_copy_equals_a_fresh_release(lesson: Lesson, tmp_path):
    problems = release_differences(lesson, tmp_path / "release")
    assert not problems, "\n".join(problems)


def test_no_solution_or_hidden_test_text_in_student_files():
    markers = (*SOLUTION_MARKERS, *HIDDEN_MARKERS)
    leaking = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "notebooks").rglob("*")
        if path.is_file() and any(marker in path.read_text(errors="ignore") for marker in markers)
    ]
    assert not leaking, f"solution or hidden-test text in student files: {leaking}"


@pytest.mark.parametrize("lesson", GRADED, ids=[lesson.slug for lesson in GRADED])
def test_student_answer_cells_are_stubs(lesson: Lesson):
    """Every answer cell raises NotImplementedError with a bilingual message naming its exercise."""
    nb = nbformat.read(lesson.student, as_version=4)
    answers = [cell for cell in nb.cells if is_answer(cell)]
    assert answers, "a graded lesson without answer cells"
    for cell in answers:
        number = exercise_label(nbgrader(cell)["grade_id"])
        assert "raise NotImplementedError(" in cell.source, cell.source
        assert f"Exercise {number} is not done yet" in cell.source, cell.source
        assert f"Bài tập {number} chưa được làm" in cell.source, cell.source
        assert "did not run" in cell.source and "chưa được chạy" in cell.source
        assert EXERCISE not in cell.source, "the exercise placeholder was not filled in"


def test_a_stub_names_its_exercise_and_raises_when_called():
    cell = new_code_cell(
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
        metadata={"nbgrader": complete_nbgrader({"solution": True, "grade_id": "ex2_answer"})},
    )
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = new_notebook(cells=[cell], metadata={"kernelspec": kernel})
    resources: dict = {}
    ClearSolutions(code_stub={"python": CODE_STUB}).preprocess(nb, resources)
    NameExerciseStubs().preprocess(nb, resources)
    namespace: dict = {}
    exec(nb.cells[0].source, namespace)
    with pytest.raises(NotImplementedError, match=r"Exercise 2 is not done yet.*Bài tập 2 chưa được làm"):
        namespace["f"]()
    assert exercise_label("warm_up") == "'warm_up'"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_student_copies_show_exactly_the_reference_outputs(lesson: Lesson):
    """Checked cells keep the solution's output (and count); every other cell has none."""
    solution = {cell.id: cell for cell in nbformat.read(lesson.solution, as_version=4).cells}
    student = nbformat.read(lesson.student, as_version=4)
    checked = 0
    for cell in student.cells:
        if cell.cell_type != "code":
            continue
        if keeps_reference_output(cell):
            checked += 1
            assert cell.outputs and cell.outputs == solution[cell.id].outputs, cell.source
            assert cell.execution_count == solution[cell.id].execution_count
        else:
            assert not cell.outputs and cell.execution_count is None, cell.source
    assert checked == sum(keeps_reference_output(cell) for cell in solution.values()) > 0


def test_no_checked_cell_is_an_answer_or_test_cell():
    """Such a cell's output comes from the solution, so the release drops it; none exists today."""
    for lesson in LESSONS:
        nb = nbformat.read(lesson.solution, as_version=4)
        assert not [cell for cell in nb.cells if is_checked(cell) and (is_answer(cell) or is_test(cell))]


def test_the_release_keeps_checked_outputs_except_in_answer_and_test_cells():
    output = new_output("stream", name="stdout", text="0.3333\n")
    plain = new_code_cell(f"{CHECK_OUTPUT}\nprint(x)", outputs=[output], execution_count=3)
    unchecked = new_code_cell("print(x)", outputs=[output], execution_count=4)
    answer = new_code_cell(
        f"{CHECK_OUTPUT}\nprint(x)",
        outputs=[output],
        metadata={"nbgrader": complete_nbgrader({"solution": True, "grade_id": "a"})},
    )
    test = new_code_cell(
        f"{CHECK_OUTPUT}\nprint(x)",
        outputs=[output],
        metadata={"nbgrader": complete_nbgrader({"grade": True, "grade_id": "t", "points": 1})},
    )
    nb = new_notebook(cells=[plain, unchecked, answer, test])
    KeepReferenceOutputs().preprocess(nb, {})
    assert [bool(cell.outputs) for cell in nb.cells] == [True, False, False, False]
    assert nb.cells[0].execution_count == 3


def test_the_student_copy_pipeline_is_nbgraders_with_two_changes():
    steps = student_copy_preprocessors()
    assert ClearOutput not in steps and KeepReferenceOutputs in steps
    assert steps.index(NameExerciseStubs) == steps.index(ClearSolutions) + 1


def test_readme_lists_every_lesson_with_its_colab_badge():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for lesson in LESSONS:
        assert lesson.colab_url in readme, f"README lacks the Colab link of {lesson.slug}"


def _package_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip().lstrip("- ").strip()
        if line and not line.endswith(":") and not line.startswith(("name", "channels", "dependencies")):
            names.add(re.split(r"[=<>!~ ]", line, maxsplit=1)[0].lower())
    return names


def test_requirements_and_environment_list_the_same_pins():
    requirements = (ROOT / "requirements.txt").read_text().splitlines()
    environment = (ROOT / "environment.yml").read_text().splitlines()
    pip_section = environment[environment.index("  - pip:") + 1 :]
    assert _package_names(requirements) == _package_names(pip_section)
    pins = {line.strip() for line in requirements if "==" in line}
    assert pins <= {line.strip().lstrip("- ").strip() for line in pip_section}


def test_no_dataset_gradebook_or_submission_is_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    bad = [
        name
        for name in tracked.stdout.splitlines()
        if re.search(r"ubyte|MNIST/raw|gradebook\.db|^(submitted|autograded|feedback)/|\.pt$", name)
    ]
    assert not bad, f"tracked files that must stay out of git: {bad}"


def test_notebooks_declare_the_python3_kernel():
    for lesson in LESSONS:
        spec = json.loads(lesson.solution.read_text())["metadata"]["kernelspec"]
        assert spec["name"] == "python3"


def _numbered_folders(parent: str) -> dict[str, list[str]]:
    """``NN_slug`` folders under ``parent`` → the notebooks each one holds (exactly ``NN_slug.ipynb``)."""
    folders = sorted(path for path in (ROOT / parent).iterdir() if re.fullmatch(r"\d\d_\w+", path.name))
    return {path.name: sorted(notebook.name for notebook in path.glob("*.ipynb")) for path in folders}


def _table_rows(markdown: str) -> list[list[str]]:
    """The rows of every markdown table whose first column is a two-digit lesson number."""
    rows = [
        [column.strip() for column in line.strip().strip("|").split("|")] for line in markdown.splitlines()
    ]
    return [row for row in rows if row and re.fullmatch(r"\d\d", row[0])]


def _course_map(language: str) -> list[list[str]]:
    """Lesson 00's course map (section 1) in ``language`` ('lang-en' or 'lang-vi')."""
    heading = {
        "lang-en": "## 1. How the course is organised",
        "lang-vi": "## 1. Khoá học được tổ chức ra sao",
    }
    nb = nbformat.read(LESSONS[0].solution, as_version=4)
    cells = [
        cell
        for cell in nb.cells
        if heading[language] in cell.source and language in cell.metadata.get("tags", [])
    ]
    assert len(cells) == 1, f"lesson 00 needs exactly one {language} cell '{heading[language]}'"
    return _table_rows(cells[0].source)


def test_registry_folders_readme_and_course_map_agree():
    """One numbering everywhere: registry, solutions/, notebooks/, titles, README table, lesson 00's map."""
    slugs = [lesson.slug for lesson in LESSONS]
    assert [lesson.number for lesson in LESSONS] == sorted({lesson.number for lesson in LESSONS}), (
        "lesson numbers must be unique and in order"
    )
    for parent in ("solutions", "notebooks"):
        folders = _numbered_folders(parent)
        assert list(folders) == slugs, f"{parent}/ holds {list(folders)}, the registry {slugs}"
        wrong = {slug: names for slug, names in folders.items() if names != [f"{slug}.ipynb"]}
        assert not wrong, f"{parent}/: folders that do not hold exactly their NN_slug.ipynb: {wrong}"
    for lesson in LESSONS:
        title = nbformat.read(lesson.solution, as_version=4).cells[0].source.strip()
        assert title == f"# {lesson.number} · {lesson.title_en} / {lesson.title_vi}", title

    readme = _table_rows((ROOT / "README.md").read_text(encoding="utf-8"))
    expected = [
        [
            lesson.number,
            f"[{lesson.title_en}](notebooks/{lesson.slug}/{lesson.slug}.ipynb)",
            lesson.title_vi,
            f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({lesson.colab_url})",
        ]
        for lesson in LESSONS
    ]
    assert readme == expected, "the README's lesson table differs from coursekit/lessons.py"

    english, vietnamese = _course_map("lang-en"), _course_map("lang-vi")
    assert [row[:2] for row in english] == [[lesson.number, lesson.title_en] for lesson in LESSONS]
    assert [row[:2] for row in vietnamese] == [[lesson.number, lesson.title_vi] for lesson in LESSONS]
