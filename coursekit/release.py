"""Generate student copies with nbgrader and check the committed ones against a fresh release."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

from coursekit.lessons import ROOT, Lesson

NBGRADER = [sys.executable, "-m", "nbgrader"]


# What running a lesson leaves next to it (git-ignored, never released): not a stray file.
RUN_ARTEFACTS = ["models", ".ipynb_checkpoints", "__pycache__"]


def tool_environment() -> dict[str, str]:
    """This environment with the interpreter's bin folder first on PATH: nbgrader runs `alembic`."""
    bin_dir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}


def run_nbgrader(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run nbgrader from the repository root (where nbgrader_config.py is read); raise on failure."""
    result = subprocess.run(
        [*NBGRADER, *args], cwd=cwd, capture_output=True, text=True, env=tool_environment()
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"nbgrader {' '.join(args)} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def generate(lesson: Lesson, release_dir: Path | None = None, *, use_db: bool = False) -> Path:
    """Write the student copy of ``lesson`` into ``release_dir`` (default: notebooks/)."""
    args = ["generate_assignment", lesson.slug, "--force"]
    if not use_db:
        args.append("--no-db")
    if release_dir is not None:
        args.append(f"--CourseDirectory.release_directory={release_dir}")
    run_nbgrader(*args)
    return (release_dir or ROOT / "notebooks") / lesson.slug


def release_differences(lesson: Lesson, scratch: Path) -> list[str]:
    """Files that differ between ``notebooks/<slug>`` and a fresh release of it."""
    fresh = generate(lesson, scratch)
    committed = ROOT / "notebooks" / lesson.slug
    if not committed.is_dir():
        return [f"{committed} is missing: run `make release`"]
    comparison = filecmp.dircmp(fresh, committed, ignore=[*RUN_ARTEFACTS, *filecmp.DEFAULT_IGNORES])
    problems = [f"only in a fresh release: {name}" for name in comparison.left_only]
    problems += [f"not produced by the release (stray file): {name}" for name in comparison.right_only]
    problems += [
        f"{name} differs from a fresh release: run `make release` and commit notebooks/"
        for name in comparison.common_files
        if (fresh / name).read_bytes() != (committed / name).read_bytes()
    ]
    return problems
