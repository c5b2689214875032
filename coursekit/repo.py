"""``python -m coursekit set-repo OWNER/NAME [--branch B]``: point every Colab link at a fork.

A Colab badge opens ``notebooks/…`` from one GitHub repository and branch, and the notebook's
setup cell installs the course package from the same place. A fork that keeps the original's
links sends its learners to someone else's course. This rewrites, without executing anything:

- the cells tagged ``colab-badge`` and ``colab-setup`` in ``solutions/`` and ``notebooks/``
  (from the templates in ``coursekit/notebooks.py``; the nbgrader checksum of a locked cell is
  recomputed, so ``notebooks/`` still equals a fresh ``make release``);
- every other GitHub or Colab link to the old repository in the course's text files (README …);
- ``GITHUB_REPO`` / ``GITHUB_BRANCH`` in ``coursekit/lessons.py``, which future builds read.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbgrader.utils import compute_checksum

from coursekit.cells import BADGE_TAG, SETUP_TAG, tags
from coursekit.lessons import ROOT
from coursekit.notebooks import badge_source, setup_source

REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
BRANCH_NAME = re.compile(r"[A-Za-z0-9._/-]+")
# A link to a GitHub repository, as a web page, a Colab notebook or a pip/git source.
REPO_LINK = re.compile(
    r"(?:colab\.research\.google\.com/github/|github\.com/)([A-Za-z0-9-]+/[A-Za-z0-9._-]+)"
)
# Other projects the course may cite: links to them are not links to the course.
OTHER_PROJECTS = frozenset({"jupyter/nbgrader", "pytorch/pytorch", "pytorch/vision"})
TEXT_SUFFIXES = frozenset({".md", ".py", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".ipynb"})
# Not the course's text: environments, data, generated output, learners' and students' files.
SKIP_DIRS = frozenset(
    {".git", ".venv", "build", "data", "workspace", "submitted", "autograded", "feedback", "grading"}
)


def text_files(root: Path) -> list[Path]:
    """The course's own text files (plus the Makefile), outside environments, data and work folders."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and (path.suffix in TEXT_SUFFIXES or path.name == "Makefile")
        and not SKIP_DIRS & set(path.relative_to(root).parts[:-1])
        and not any(part.endswith((".egg-info", "_cache")) for part in path.relative_to(root).parts)
    )


def repos_named(text: str) -> set[str]:
    """owner/name of every repository ``text`` links to, other than the projects the course cites."""
    names = {match.group(1).removesuffix(".git").rstrip(".") for match in REPO_LINK.finditer(text)}
    return names - OTHER_PROJECTS


def current_repo(root: Path = ROOT) -> tuple[str, str]:
    """GITHUB_REPO and GITHUB_BRANCH as written in ``root``'s lessons.py (not this process's copy)."""
    source = (root / "coursekit" / "lessons.py").read_text(encoding="utf-8")
    repo = re.search(r'^GITHUB_REPO = "([^"]+)"', source, re.M)
    branch = re.search(r'^GITHUB_BRANCH = "([^"]+)"', source, re.M)
    if not repo or not branch:
        raise SystemExit(f"{root / 'coursekit' / 'lessons.py'}: GITHUB_REPO / GITHUB_BRANCH not found")
    return repo.group(1), branch.group(1)


def relink(text: str, old: tuple[str, str], new: tuple[str, str]) -> str:
    """Replace links to the old repository (and, in Colab and pip links, its branch) by the new."""
    (old_repo, old_branch), (new_repo, new_branch) = old, new
    repo, branch = re.escape(old_repo), re.escape(old_branch)
    whole = r"(?=(?:\.git)?\.?(?:[^A-Za-z0-9._-]|$))"  # the complete name, not a longer one
    colab = "colab.research.google.com/github/"
    rules = [
        (rf"{re.escape(colab)}{repo}/blob/{branch}/", f"{colab}{new_repo}/blob/{new_branch}/"),
        (rf"{re.escape(colab)}{repo}/", f"{colab}{new_repo}/"),
        (rf"github\.com/{repo}@{branch}(?![A-Za-z0-9._/-])", f"github.com/{new_repo}@{new_branch}"),
        (rf"github\.com/{repo}{whole}", f"github.com/{new_repo}"),
    ]
    for pattern, replacement in rules:
        text = re.sub(pattern, replacement, text)
    return text


def relink_notebook(path: Path, old: tuple[str, str], new: tuple[str, str]) -> bool:
    """Badge and setup cells from the templates, other links rewritten; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if BADGE_TAG in tags(cell):
            source = badge_source(path.stem, *new)
        elif SETUP_TAG in tags(cell):
            source = setup_source(*new)
        else:
            source = relink(cell.source, old, new)
        if source != cell.source:
            cell.source, changed = source, True
            if "checksum" in cell.metadata.get("nbgrader", {}):
                cell.metadata.nbgrader.checksum = compute_checksum(cell)
    if changed:
        nbformat.write(nb, path)
    return changed


def set_repo(repo: str, branch: str = "main", root: Path = ROOT) -> list[Path]:
    """Point the course in ``root`` at ``repo`` (owner/name) and ``branch``; return the files changed."""
    if not REPO_NAME.fullmatch(repo):
        raise SystemExit(f"{repo!r} is not a GitHub owner/name, e.g. my-school/pytorch-core")
    if not BRANCH_NAME.fullmatch(branch) or ".." in branch:
        raise SystemExit(f"{branch!r} is not a branch name")
    old, new = current_repo(root), (repo, branch)
    changed = []
    for path in text_files(root):
        if path.suffix == ".ipynb":
            if relink_notebook(path, old, new):
                changed.append(path)
            continue
        text = path.read_text(encoding="utf-8")
        updated = relink(text, old, new)
        if path == root / "coursekit" / "lessons.py":
            updated = re.sub(r'^GITHUB_REPO = "[^"]+"', f'GITHUB_REPO = "{repo}"', updated, flags=re.M)
            updated = re.sub(r'^GITHUB_BRANCH = "[^"]+"', f'GITHUB_BRANCH = "{branch}"', updated, flags=re.M)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return changed
