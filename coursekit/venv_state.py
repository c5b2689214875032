"""What ``.venv`` must be built from, so that ``make setup`` rebuilds it when that changes.

``make`` runs this with the interpreter that creates the venv (``PYTHON``), before anything is
installed: standard library only. It writes ``WANTED`` (the Python version, the torch build and a
hash of requirements.txt + pyproject.toml) only when that content changes, so the file's
timestamp tells make whether to reinstall. A venv made by another Python version or for another
torch build cannot be patched in place (pip keeps a torch that already satisfies the pin), so
it is removed here and recreated by make.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path


def wanted(torch_build: str, inputs: list[Path]) -> dict[str, str]:
    digest = hashlib.sha256()
    for path in inputs:
        digest.update(path.read_bytes())
    return {"python": platform.python_version(), "torch": torch_build, "inputs": digest.hexdigest()[:16]}


def venv_python_version(venv: Path) -> str | None:
    """The version of the venv's own interpreter; None when it is missing or broken."""
    python = venv / "bin" / "python"
    try:
        result = subprocess.run(
            [str(python), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def stale_reason(venv: Path, previous: dict[str, str], state: dict[str, str]) -> str | None:
    """Why the existing venv must be recreated rather than updated; None if it can be kept."""
    if not venv.exists():
        return None
    found = venv_python_version(venv)
    if found != state["python"]:
        return f"it runs Python {found or '(none: broken)'}, and {sys.executable} is {state['python']}"
    if previous.get("torch", state["torch"]) != state["torch"]:
        return f"it holds the {previous['torch']} build of torch, and TORCH asks for {state['torch']}"
    return None


def refresh(venv: Path, wanted_file: Path, state: dict[str, str]) -> bool:
    """Remove a venv that cannot be kept; write ``wanted_file`` if it changed. True if it did."""
    previous = json.loads(wanted_file.read_text()) if wanted_file.is_file() else {}
    reason = stale_reason(venv, previous, state)
    if reason:
        print(f"recreating {venv}: {reason} / tạo lại {venv} vì phiên bản Python hoặc bản torch đã đổi")
        shutil.rmtree(venv)
    text = json.dumps(state, sort_keys=True) + "\n"
    if wanted_file.is_file() and wanted_file.read_text() == text:
        return False
    wanted_file.parent.mkdir(parents=True, exist_ok=True)
    wanted_file.write_text(text)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.venv_state", description=__doc__)
    parser.add_argument("--venv", type=Path, required=True)
    parser.add_argument("--torch", choices=["cpu", "cuda"], required=True)
    parser.add_argument("--wanted", type=Path, required=True, help="file to (re)write")
    parser.add_argument("inputs", type=Path, nargs="+", help="files whose content the install depends on")
    args = parser.parse_args(argv)
    refresh(args.venv, args.wanted, wanted(args.torch, args.inputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
