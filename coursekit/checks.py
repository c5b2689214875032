"""Machine checks of a solution notebook: structure, nbgrader cells, bilingual pairs, glossary.

Each check returns a list of human-readable problems; an empty list means the notebook passes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from coursekit.cells import (
    BADGE_TAG,
    HIDDEN_MARKERS,
    SETUP_TAG,
    SOLUTION_MARKERS,
    is_answer,
    is_checked,
    is_test,
    lang,
    nbgrader,
    tags,
    text_hash,
)
from coursekit.lessons import ROOT, Lesson

VIETNAMESE_LETTERS = set("ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ")
GLOSSARY_NOTE = re.compile(r"\(\*([^*()]+)\*\)")


def _where(index: int, cell: NotebookNode) -> str:
    first = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else "<empty>"
    return f"cell {index} ({cell.cell_type}: {first!r})"


def check_structure(nb: NotebookNode, lesson: Lesson) -> list[str]:
    """Title, badge, setup cell; objectives at the top; recap and going further at the end."""
    problems = []
    cells = nb.cells
    if len(cells) < 3 or not cells[0].source.startswith(f"# {lesson.number} ·"):
        problems.append(f"the first cell must be the title '# {lesson.number} · …'")
    if len(cells) < 3 or BADGE_TAG not in tags(cells[1]) or SETUP_TAG not in tags(cells[2]):
        problems.append("cells 2 and 3 must be the Colab badge and setup cell (run coursekit build)")
    english = [cell.source.lower() for cell in cells if lang(cell) == "lang-en"]
    for heading in ("learning objectives", "recap", "going further"):
        if not any(heading in source for source in english):
            problems.append(f"no English cell with a '{heading}' section")
    return problems


def check_outputs(nb: NotebookNode) -> list[str]:
    """Only checked cells carry outputs, and every checked cell has its reference output."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_checked(cell) and (not cell.outputs or cell.execution_count is None):
            problems.append(f"{_where(index, cell)} is NBVAL_CHECK_OUTPUT but has no stored, numbered output")
        if not is_checked(cell) and cell.outputs:
            problems.append(f"{_where(index, cell)} stores outputs nbval does not check (strip them)")
        if is_checked(cell) and any(out.get("output_type") == "display_data" for out in cell.outputs):
            problems.append(f"{_where(index, cell)} is checked but displays rich output; print text only")
    return problems


def check_grading(nb: NotebookNode, lesson: Lesson) -> list[str]:
    """nbgrader cells: unique ids, markers where they belong, hidden tests, points."""
    problems = []
    ids = [nbgrader(cell)["grade_id"] for cell in nb.cells if nbgrader(cell)]
    duplicates = sorted({grade_id for grade_id in ids if ids.count(grade_id) > 1})
    if duplicates:
        problems.append(f"duplicate grade_id: {duplicates}")
    tests = [cell for cell in nb.cells if is_test(cell)]
    if lesson.graded and len(tests) < 2:
        problems.append(f"a graded lesson needs at least two test cells; found {len(tests)}")
    if not lesson.graded and tests:
        problems.append("an ungraded lesson must not hold test cells")
    for index, cell in enumerate(nb.cells):
        where = _where(index, cell)
        has_solution = all(marker in cell.source for marker in SOLUTION_MARKERS)
        has_hidden = all(marker in cell.source for marker in HIDDEN_MARKERS)
        if is_answer(cell) != has_solution:
            problems.append(f"{where}: solution markers belong exactly in answer cells")
        if is_test(cell):
            if not has_hidden:
                problems.append(f"{where}: a test cell needs a BEGIN/END HIDDEN TESTS block")
            if not nbgrader(cell).get("points", 0) > 0:
                problems.append(f"{where}: a test cell needs points > 0")
            if not nbgrader(cell).get("locked"):
                problems.append(f"{where}: a test cell must be locked")
        elif any(marker in cell.source for marker in HIDDEN_MARKERS):
            problems.append(f"{where}: hidden tests outside a test cell")
    return problems


def check_bilingual(nb: NotebookNode) -> list[str]:
    """Every explanation is an en → vi pair, the vi twin is current and reads as Vietnamese."""
    problems = []
    cells = nb.cells
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        tag = lang(cell)
        where = _where(index, cell)
        if tag is None:
            problems.append(f"{where}: markdown needs exactly one of lang-en / lang-vi / lang-both")
        elif tag == "lang-en":
            twin = cells[index + 1] if index + 1 < len(cells) else None
            if twin is None or lang(twin) != "lang-vi":
                problems.append(f"{where}: English cell without a Vietnamese twin right after it")
            elif twin.metadata.get("translation_of") != text_hash(cell.source):
                problems.append(
                    f"{where}: the English text changed after it was translated; update the "
                    "Vietnamese twin, then run `python -m coursekit stamp`"
                )
        elif tag == "lang-vi":
            if index == 0 or lang(cells[index - 1]) != "lang-en":
                problems.append(f"{where}: Vietnamese cell that does not follow an English one")
            if not VIETNAMESE_LETTERS & set(cell.source.lower()):
                problems.append(f"{where}: tagged lang-vi but contains no Vietnamese letters")
    return problems


@lru_cache(maxsize=1)
def load_glossary(path: Path = ROOT / "GLOSSARY.md") -> dict[str, tuple[str, ...]]:
    """English term → accepted Vietnamese forms, from the glossary's table."""
    glossary: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        columns = [column.strip() for column in line.strip().strip("|").split("|")]
        if len(columns) != 2 or columns[0] in ("English", "") or set(columns[0]) <= {"-"}:
            continue
        glossary[columns[0].lower()] = tuple(form.strip().lower() for form in columns[1].split(";"))
    return glossary


def check_glossary(nb: NotebookNode) -> list[str]:
    """Each `(*term*)` in Vietnamese follows the glossary's Vietnamese form of that term."""
    glossary = load_glossary()
    problems = []
    for index, cell in enumerate(nb.cells):
        if lang(cell) != "lang-vi":
            continue
        for match in GLOSSARY_NOTE.finditer(cell.source):
            term = match.group(1).strip().lower()
            before = re.sub(r"[\s*_`]+$", "", cell.source[: match.start()]).lower()
            if term not in glossary:
                problems.append(f"{_where(index, cell)}: '{term}' is not in GLOSSARY.md")
            elif not any(before.endswith(form) for form in glossary[term]):
                forms = " / ".join(glossary[term])
                problems.append(f"{_where(index, cell)}: '{term}' must follow its glossary form '{forms}'")
    return problems


def check_lesson(lesson: Lesson) -> list[str]:
    nb = nbformat.read(lesson.solution, as_version=4)
    noise = (
        ["notebook metadata holds widget state (rebuild with coursekit)"] if "widgets" in nb.metadata else []
    )
    return [
        *noise,
        *check_structure(nb, lesson),
        *check_outputs(nb),
        *check_grading(nb, lesson),
        *check_bilingual(nb),
        *check_glossary(nb),
    ]
