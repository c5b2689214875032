"""Fast checks of the course as a whole: every lesson present, checked, released, no leaks."""

from __future__ import annotations

import json
import re
import subprocess

import nbformat
import pytest

from coursekit.cells import HIDDEN_MARKERS, SOLUTION_MARKERS, is_answer
from coursekit.checks import check_lesson
from coursekit.lessons import LESSONS, ROOT, Lesson
from coursekit.release import release_differences

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
    """Every answer cell of the student copy raises NotImplementedError instead of answering."""
    nb = nbformat.read(lesson.student, as_version=4)
    answers = [cell for cell in nb.cells if is_answer(cell)]
    assert answers, "a graded lesson without answer cells"
    for cell in answers:
        assert "raise NotImplementedError()" in cell.source, cell.source


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
