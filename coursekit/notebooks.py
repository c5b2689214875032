"""Build a solution notebook from py:percent text, execute it, keep only checked outputs."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

from coursekit.cells import (
    BADGE_TAG,
    SETUP_TAG,
    is_answer,
    is_checked,
    lang,
    nbgrader,
    tags,
    text_hash,
)
from coursekit.lessons import GITHUB_BRANCH, GITHUB_REPO, Lesson, colab_url

EXECUTION_TIMEOUT_S = 600

SETUP_TEMPLATE = """\
# Setup: in Colab, install the course helpers (`utils`); anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    if subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "git+https://github.com/{repo}@{branch}"]
    ).returncode != 0:
        raise RuntimeError(
            "Could not install the course package from github.com/{repo} (branch {branch}). Check "
            "that this repository and branch exist and are public. A fork must point its notebooks "
            "at itself: run `python -m coursekit set-repo OWNER/NAME --branch BRANCH`, push, then "
            "open the notebook from the fork's Colab badge.\\n"
            "Không cài được gói của khoá học từ github.com/{repo} (nhánh {branch}). Hãy kiểm tra "
            "rằng kho và nhánh này tồn tại và ở chế độ công khai. Một bản fork phải trỏ notebook về "
            "chính nó: chạy `python -m coursekit set-repo OWNER/NAME --branch BRANCH`, push, rồi mở "
            "notebook từ huy hiệu Colab của bản fork."
        )"""
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def setup_source(repo: str = GITHUB_REPO, branch: str = GITHUB_BRANCH) -> str:
    """The Colab setup cell: installs the course package from ``repo`` at ``branch``, or says why not."""
    return SETUP_TEMPLATE.format(repo=repo, branch=branch)


def badge_source(slug: str, repo: str = GITHUB_REPO, branch: str = GITHUB_BRANCH) -> str:
    return f"[![Open in Colab]({BADGE_IMAGE})]({colab_url(slug, repo, branch)})"


def badge_cell(lesson: Lesson) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(
        badge_source(lesson.slug), metadata={"tags": ["lang-both", BADGE_TAG]}
    )


def setup_cell() -> NotebookNode:
    metadata = {"tags": [SETUP_TAG], "nbgrader": complete_nbgrader({"locked": True, "grade_id": "setup"})}
    return nbformat.v4.new_code_cell(setup_source(), metadata=metadata)


def complete_nbgrader(partial: dict) -> dict:
    """Fill in the keys nbgrader's schema 3 requires, from the short form authors write."""
    solution = bool(partial.get("solution", False))
    grade = bool(partial.get("grade", False))
    meta = {
        "grade": grade,
        "grade_id": partial["grade_id"],
        "locked": bool(partial.get("locked", not solution)),
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = partial["points"]
    return meta


def with_standard_cells(nb: NotebookNode, lesson: Lesson) -> NotebookNode:
    """Title first, then the Colab badge and the setup cell, exactly once each."""
    body = [cell for cell in nb.cells if not {BADGE_TAG, SETUP_TAG} & set(tags(cell))]
    nb.cells = [body[0], badge_cell(lesson), setup_cell(), *body[1:]]
    return nb


def stamp_translations(nb: NotebookNode, *, only_new: bool = False) -> int:
    """Record on each Vietnamese cell the hash of the English cell it translates.

    ``only_new=True`` stamps only Vietnamese cells that carry no stamp yet: what ``build`` does,
    so that an English edit made in the text source still shows up as a stale translation
    until the author updates the Vietnamese and runs ``coursekit stamp``.
    """
    stamped = 0
    for previous, cell in zip(nb.cells, nb.cells[1:], strict=False):
        if lang(cell) != "lang-vi" or lang(previous) != "lang-en":
            continue
        if only_new and "translation_of" in cell.metadata:
            continue
        cell.metadata["translation_of"] = text_hash(previous.source)
        stamped += 1
    return stamped


def normalise(nb: NotebookNode) -> NotebookNode:
    """Complete nbgrader metadata and drop editor noise (jupytext header, ids stay)."""
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:03d}"  # stable ids: a rebuild without edits changes nothing
        cell.metadata.pop("lines_to_next_cell", None)
        if "nbgrader" in cell.metadata:
            cell.metadata["nbgrader"] = complete_nbgrader(nbgrader(cell))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def strip_unchecked_outputs(nb: NotebookNode) -> NotebookNode:
    """Keep outputs only where nbval compares them; nothing else belongs in git."""
    nb.metadata.pop("widgets", None)  # progress-bar widget state: timings that change every run
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if not is_checked(cell):
            cell.outputs, cell.execution_count = [], None
        cell.outputs = coalesce_streams(cell.outputs)
        # A checked cell keeps its execution count (deterministic: the kernel runs every cell
        # in order): nbval treats a cell with outputs but no count as "unrun" and fails it.
    return nb


def coalesce_streams(outputs: list) -> list:
    """Join consecutive pieces of one stream: a loaded kernel may send one print in two parts."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and output.get("output_type") == "stream"
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = "".join(previous["text"]) + "".join(output["text"])
        else:
            merged.append(output)
    return merged


def execute(nb: NotebookNode, workdir: Path) -> NotebookNode:
    """Run every cell in ``workdir``; a failing cell raises with its traceback."""
    client = NotebookClient(
        nb,
        timeout=EXECUTION_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        record_timing=False,
    )
    client.execute()
    return nb


def execute_file(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    execute(nb, path.parent)
    nb.metadata["language_info"] = {"name": "python"}  # not the builder's exact Python version
    nbformat.write(strip_unchecked_outputs(nb), path)


def build(source: Path, lesson: Lesson, *, run: bool = True) -> Path:
    """py:percent text → ``solutions/<slug>/<slug>.ipynb``: standard cells, new twins stamped, executed."""
    nb = normalise(jupytext.read(source))
    if not nb.cells or lang(nb.cells[0]) != "lang-both" or nb.cells[0].cell_type != "markdown":
        raise SystemExit(f"{source}: the first cell must be the lang-both markdown title")
    with_standard_cells(nb, lesson)
    normalise(nb)  # again: number the cell ids after the standard cells went in
    stamp_translations(nb, only_new=True)
    lesson.solution.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, lesson.solution)
    if run:
        execute_file(lesson.solution)
    return lesson.solution


__all__ = ["build", "execute_file", "is_answer", "stamp_translations"]
