"""What a cell is, in the course's terms: its language tag, nbgrader role, checked output."""

from __future__ import annotations

import hashlib

from nbformat import NotebookNode

CHECK_OUTPUT = "# NBVAL_CHECK_OUTPUT"
LANG_TAGS = ("lang-en", "lang-vi", "lang-both")
BADGE_TAG = "colab-badge"
SETUP_TAG = "colab-setup"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def lang(cell: NotebookNode) -> str | None:
    found = [tag for tag in tags(cell) if tag in LANG_TAGS]
    return found[0] if len(found) == 1 else None


def nbgrader(cell: NotebookNode) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def is_answer(cell: NotebookNode) -> bool:
    return bool(nbgrader(cell).get("solution"))


def is_test(cell: NotebookNode) -> bool:
    return bool(nbgrader(cell).get("grade")) and cell.cell_type == "code"


def is_checked(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECK_OUTPUT)


def text_hash(text: str) -> str:
    """Short fingerprint of an English cell, stored on its Vietnamese twin."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]
