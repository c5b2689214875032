"""The learner's set-up: what `make setup` / `make lab` run, the venv stamp, the workspace, forks.

Fast: `make` runs only in dry-run mode or stops at the Python check; nothing is installed,
no notebook is executed and nothing touches the network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import torch
from nbgrader.utils import compute_checksum

import utils
from coursekit import bench, venv_state
from coursekit.cells import BADGE_TAG, SETUP_TAG, tags
from coursekit.lessons import GITHUB_BRANCH, GITHUB_REPO, LESSONS, ROOT
from coursekit.notebooks import setup_source
from coursekit.repo import current_repo, repos_named, set_repo, text_files
from coursekit.workspace import MANIFEST, describe, sync

FORK = "a-school/course-fork"  # written without a link prefix: this file must not link to it
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"
PYPI_EXTRA = "--extra-index-url https://pypi.org/simple"
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def make(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)


def fake_command(folder: Path, name: str, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return path


def torch_install_line(dry_run: str) -> str:
    """The pip command of a dry run that installs the pinned torch and torchvision."""
    lines = [line for line in dry_run.splitlines() if "pip install" in line and "torch==" in line]
    assert len(lines) == 1, dry_run
    assert "torchvision==" in lines[0]
    return lines[0]


# 1. Install size: TORCH=cpu|cuda|auto reaches the pip command that installs torch ---------------


@needs_make
def test_torch_cpu_takes_the_cpu_index_and_pypi_for_the_rest(tmp_path):
    result = make("-n", "setup", "TORCH=cpu", f"VENV={tmp_path / 'venv'}")
    assert result.returncode == 0, result.stderr
    line = torch_install_line(result.stdout)
    assert CPU_INDEX in line and PYPI_EXTRA in line


@needs_make
@pytest.mark.parametrize("choice", [[], ["TORCH=cuda"]], ids=["default", "cuda"])
def test_default_and_cuda_keep_the_default_index(tmp_path, choice):
    result = make("-n", "setup", *choice, f"VENV={tmp_path / 'venv'}")
    assert result.returncode == 0, result.stderr
    torch_install_line(result.stdout)
    assert "download.pytorch.org" not in result.stdout and "--index-url" not in result.stdout


@needs_make
@pytest.mark.parametrize(("nvidia_smi_exit", "build"), [(0, "cuda"), (1, "cpu")])
def test_torch_auto_follows_nvidia_smi(tmp_path, nvidia_smi_exit, build):
    fake_command(tmp_path / "bin", "nvidia-smi", f"exit {nvidia_smi_exit}")
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    result = make("-n", "setup", "TORCH=auto", f"VENV={tmp_path / 'venv'}", path=path)
    assert f"--torch {build}" in result.stdout
    assert (CPU_INDEX in torch_install_line(result.stdout)) == (build == "cpu")


@needs_make
def test_an_unknown_torch_choice_is_refused():
    result = make("-n", "setup", "TORCH=rocm")
    assert result.returncode != 0 and "TORCH=rocm" in result.stderr


# 2. Python version: checked before anything is created; the venv is rebuilt when inputs change --


@needs_make
def test_a_too_old_python_stops_before_any_venv_is_created(tmp_path):
    python = fake_command(tmp_path / "bin", "python3", 'echo "Python 3.9.18"')
    venv = tmp_path / "venv"
    result = make("setup", f"PYTHON={python}", f"VENV={venv}")
    assert result.returncode != 0
    assert "Python 3.9.18" in result.stderr and "3.10 to 3.13" in result.stderr
    assert "make lab PYTHON=python3.12" in result.stderr and "khoá học cần Python" in result.stderr
    assert not venv.exists()


@needs_make
@pytest.mark.parametrize(("version", "accepted"), [("3.10.0", True), ("3.13.1", True), ("3.14.0", False)])
def test_the_python_check_accepts_3_10_to_3_13(tmp_path, version, accepted):
    python = fake_command(tmp_path / "bin", "python3", f'echo "Python {version}"')
    assert (make("check-python", f"PYTHON={python}").returncode == 0) == accepted


def test_pyproject_states_the_same_lowest_python():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^requires-python = ">=3\.10"', pyproject, re.M)


def fake_venv(root: Path, version: str) -> Path:
    fake_command(root / "bin", "python", f'echo "{version}"')
    return root


def test_the_stamp_changes_with_the_requirements_and_the_torch_build(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("torch==2.14.1\n")
    before = venv_state.wanted("cuda", [requirements])
    assert venv_state.wanted("cpu", [requirements]) != before
    requirements.write_text("torch==2.14.1\nipywidgets\n")
    assert venv_state.wanted("cuda", [requirements])["inputs"] != before["inputs"]


def test_a_venv_of_another_python_is_removed_and_the_stamp_rewritten(tmp_path):
    venv = fake_venv(tmp_path / "venv", "3.9.1")
    wanted_file = venv / ".wanted"
    state = {"python": "3.11.7", "torch": "cuda", "inputs": "abc"}
    assert venv_state.refresh(venv, wanted_file, state)
    assert json.loads(wanted_file.read_text()) == state
    assert not (venv / "bin").exists()


def test_a_venv_of_the_same_python_is_kept_and_reinstalled_only_when_inputs_change(tmp_path):
    venv = fake_venv(tmp_path / "venv", "3.11.7")
    wanted_file = venv / ".wanted"
    state = {"python": "3.11.7", "torch": "cuda", "inputs": "abc"}
    assert venv_state.refresh(venv, wanted_file, state)
    assert not venv_state.refresh(venv, wanted_file, state), "unchanged: make must not reinstall"
    assert venv_state.refresh(venv, wanted_file, {**state, "inputs": "def"})
    assert (venv / "bin" / "python").exists()


def test_switching_the_torch_build_recreates_the_venv(tmp_path):
    venv = fake_venv(tmp_path / "venv", "3.11.7")
    wanted_file = venv / ".wanted"
    state = {"python": "3.11.7", "torch": "cuda", "inputs": "abc"}
    venv_state.refresh(venv, wanted_file, state)
    venv_state.refresh(venv, wanted_file, {**state, "torch": "cpu"})
    assert not (venv / "bin").exists()


# 3. The learner's workspace -------------------------------------------------------------------


def course(folder: Path, lessons: dict[str, str]) -> Path:
    for slug, text in lessons.items():
        (folder / slug).mkdir(parents=True, exist_ok=True)
        (folder / slug / f"{slug}.ipynb").write_text(text)
    return folder


def test_the_workspace_is_created_from_the_student_copies(tmp_path):
    source = course(tmp_path / "notebooks", {"00_a": "a", "01_b": "b"})
    (source / "01_b" / "models").mkdir()
    (source / "01_b" / "models" / "w.pt").write_text("run artefact")
    report = sync(source, tmp_path / "workspace")
    assert report.copied == ["00_a/00_a.ipynb", "01_b/01_b.ipynb"]
    assert (tmp_path / "workspace" / "01_b" / "01_b.ipynb").read_text() == "b"
    assert not (tmp_path / "workspace" / "01_b" / "models").exists()


def test_the_workspace_never_overwrites_and_gains_new_lessons(tmp_path):
    source = course(tmp_path / "notebooks", {"00_a": "a"})
    target = tmp_path / "workspace"
    sync(source, target)
    (target / "00_a" / "00_a.ipynb").write_text("my answers")
    course(source, {"00_a": "a, version 2", "02_c": "c"})
    report = sync(source, target)
    assert (target / "00_a" / "00_a.ipynb").read_text() == "my answers"
    assert report.copied == ["02_c/02_c.ipynb"] and (target / "02_c" / "02_c.ipynb").read_text() == "c"
    assert report.newer_in_course == ["00_a/00_a.ipynb"]
    assert "00_a/00_a.ipynb" in describe(report, target) and "make lab" in describe(report, target)
    assert json.loads((target / MANIFEST).read_text())["02_c/02_c.ipynb"]


def test_a_renamed_copy_lets_the_new_version_in(tmp_path):
    source = course(tmp_path / "notebooks", {"00_a": "a"})
    target = tmp_path / "workspace"
    sync(source, target)
    course(source, {"00_a": "a, version 2"})
    (target / "00_a" / "00_a.ipynb").rename(target / "00_a" / "00_a-old.ipynb")
    report = sync(source, target)
    assert report.copied == ["00_a/00_a.ipynb"] and not report.newer_in_course
    assert (target / "00_a" / "00_a.ipynb").read_text() == "a, version 2"


def test_the_workspace_is_ignored_by_git_and_by_ruff():
    assert "workspace/" in (ROOT / ".gitignore").read_text().splitlines()
    assert '"workspace"' in (ROOT / "pyproject.toml").read_text()


def test_data_resolves_to_the_course_folder_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(utils.data.DATA_DIR_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert utils.data_dir() == ROOT / "data"


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_lessons_use_no_path_outside_their_own_folder(lesson):
    """A copy in workspace/ must run as it does in notebooks/: no ../, no course folder by name."""
    nb = nbformat.read(lesson.student, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"\.\./|[\"'](notebooks|solutions|data)/", cell.source), cell.source


# 5. Colab for any fork ------------------------------------------------------------------------


def test_the_repository_links_to_exactly_one_course_repository():
    named: dict[str, set[str]] = {}
    for path in text_files(ROOT):
        for name in repos_named(path.read_text(encoding="utf-8", errors="ignore")):
            named.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert set(named) == {GITHUB_REPO}, named
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.findall(r"colab\.research\.google\.com/github/[^/]+/[^/]+/blob/([^/]+)/", readme) == [
        GITHUB_BRANCH
    ] * len(LESSONS)


def copy_of_the_course(destination: Path) -> Path:
    """The files git would commit (tracked or new, not ignored), as they are in the working tree."""
    command = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    for name in listed.stdout.splitlines():
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def test_set_repo_moves_every_link_to_the_fork(tmp_path):
    root = copy_of_the_course(tmp_path / "course")
    changed = set_repo(FORK, "autumn", root)
    assert root / "README.md" in changed and root / "coursekit" / "lessons.py" in changed
    assert current_repo(root) == (FORK, "autumn")
    for path in text_files(root):
        text = path.read_text(encoding="utf-8", errors="ignore")
        assert repos_named(text) <= {FORK}, path
        assert not re.findall(r"/blob/(?!autumn/|{)[^/\s)]+/notebooks/", text), path
    for folder in ("solutions", "notebooks"):
        for lesson in LESSONS:
            nb = nbformat.read(root / folder / lesson.slug / f"{lesson.slug}.ipynb", as_version=4)
            badge, setup = (next(c for c in nb.cells if tag in tags(c)) for tag in (BADGE_TAG, SETUP_TAG))
            assert f"github/{FORK}/blob/autumn/notebooks/{lesson.slug}/" in badge.source
            assert setup.source == setup_source(FORK, "autumn")
            if folder == "notebooks":
                assert setup.metadata.nbgrader.checksum == compute_checksum(setup)


def test_after_set_repo_the_student_copies_still_equal_a_fresh_release(tmp_path):
    """set-repo edits notebooks/ in place; nbgrader, run in the fork, must produce the same bytes."""
    root = copy_of_the_course(tmp_path / "course")
    set_repo(FORK, "autumn", root)
    lesson = LESSONS[1]
    fresh = tmp_path / "fresh"
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", lesson.slug, "--force", "--no-db",
         f"--CourseDirectory.release_directory={fresh}"],
        cwd=root, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    name = f"{lesson.slug}/{lesson.slug}.ipynb"
    assert (fresh / name).read_bytes() == (root / "notebooks" / name).read_bytes()


def test_the_setup_cell_does_nothing_outside_colab():
    namespace: dict = {}
    exec(setup_source(), namespace)
    assert "subprocess" not in namespace


def test_a_failed_colab_install_says_why_in_both_languages(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: subprocess.CompletedProcess(args, 1))
    with pytest.raises(RuntimeError) as raised:
        exec(setup_source(FORK, "autumn"), {})
    message = str(raised.value)
    assert f"Could not install the course package from github.com/{FORK}" in message
    assert "branch autumn" in message and "set-repo" in message
    assert "Không cài được gói của khoá học" in message and "nhánh autumn" in message


# 7. make lab and make help ----------------------------------------------------------------------


@needs_make
def test_make_lab_keeps_the_root_flag_apart_from_lab_args(tmp_path):
    result = make("-n", "lab", "LAB_ARGS=--no-browser", "PORT=9999", f"VENV={tmp_path / 'venv'}")
    assert result.returncode == 0, result.stderr
    lab = result.stdout[result.stdout.index("coursekit workspace") :]
    assert "jupyter lab" in lab, "the workspace is synced before JupyterLab starts"
    assert "--no-browser" in lab and "--ServerApp.port=9999" in lab
    assert f"--ServerApp.root_dir={ROOT / 'workspace'}" in lab
    assert ("--allow-root" in lab) == (os.geteuid() == 0)


@needs_make
def test_make_help_documents_the_variables():
    result = make("help")
    for variable in ("PYTHON=python3", "TORCH=cuda", "PORT=8888", "LAB_ARGS=", "VENV=.venv"):
        assert variable in result.stdout, result.stdout


# 8. Without make --------------------------------------------------------------------------------


def test_readme_gives_the_plain_pip_recipe_for_both_systems():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for step in (
        "-m venv .venv",
        "pip install -r requirements.txt",
        "pip install --no-deps -e .",
        "jupyter lab",
    ):
        assert step in readme.split("### Without make")[1].split("## Lessons")[0], step
    assert "```powershell" in readme and ".venv\\Scripts\\python" in readme


def test_ipywidgets_is_in_both_package_lists():
    for name in ("requirements.txt", "environment.yml"):
        assert re.search(r"^\s*(- )?ipywidgets\b", (ROOT / name).read_text(), re.M), name


# make bench: the pipeline part -------------------------------------------------------------------


def test_bench_draws_no_progress_bar_when_not_on_a_terminal(capsys):
    batches = [(torch.rand(100, 1, 28, 28), torch.randint(0, 10, (100,))) for _ in range(2)]
    bench._epoch_seconds(batches, "test")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("share", "verdict"), [(0.02, "meets"), (0.08, "MISSES")])
def test_bench_reports_the_ratio_and_judges_the_data_share(share, verdict):
    figures = {
        "classic_epoch_s": 4.0,
        "preloaded_epoch_s": 1.3,
        "speedup": 3.1,
        "classic_data_only_s": 2.5,
        "preloaded_data_only_s": 1.3 * share,
        "data_only_speedup": 2.5 / (1.3 * share),
        "preloaded_data_share": share,
    }
    text = "\n".join(bench.pipeline_summary(figures))
    assert "3.1× faster" in text and f"{share:.1%}" in text and f"{verdict} the < 5% target" in text
