"""Run a student's kernel inside bubblewrap (``bwrap``), the sandbox Flatpak uses.

The kernel sees: the system's ``/usr``, the Python installation and the course's virtual
environment, ``utils/`` and the MNIST folder — all read-only — plus one writable folder of its
own (its working directory, also its home and ``TMPDIR``) plus the folder of its Unix sockets;
everything else is read-only. It has no network (``--unshare-net``; the kernel talks to the
grader over those sockets), its own process and IPC namespaces, no capabilities and a cleared
environment.
It cannot see ``solutions/``, other submissions, the gradebook or any home folder.

The grader (trusted) runs nbgrader outside the sandbox; only the kernel is launched inside, by
:class:`SandboxedKernelManager`, which reads its sandbox from a JSON spec named by the
``COURSEKIT_SANDBOX_SPEC`` environment variable (written by :mod:`coursekit.grading`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

from coursekit.lessons import ROOT

SPEC_VARIABLE = "COURSEKIT_SANDBOX_SPEC"
# Read-only system paths the interpreter and its libraries need (those that exist are bound).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts", "/etc/localtime")
SANDBOX_UID = 65534  # "nobody" inside the sandbox's own user namespace


class SandboxUnavailable(RuntimeError):
    """No working sandbox on this machine; grading refuses unless told to run unsafely."""


def python_paths() -> list[str]:
    """Folders holding the interpreter, the standard library and the installed packages."""
    candidates = {
        sys.base_prefix,
        sys.prefix,
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    }
    candidates.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(path for path in candidates if Path(path).exists())


def read_only_paths(data_dir: Path) -> list[str]:
    paths = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
    paths += [p for p in ETC_FILES if os.path.exists(p)]
    paths += python_paths()
    paths += [str(ROOT / "utils"), str(data_dir)]
    return paths


def bwrap_command(workdir: Path, data_dir: Path, *, sockets: Path | None = None) -> list[str]:
    """The ``bwrap`` prefix for a command that may write only inside ``workdir`` (and ``sockets``)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed: apt-get install bubblewrap")
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-all", "--unshare-user"]
    args += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
    for path in read_only_paths(data_dir):
        if os.path.islink(path) and path in SYSTEM_PATHS:
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--ro-bind", path, path]
    # No shared /tmp: the sandbox's temporary files go to its own folder (TMPDIR below), and a path
    # under the host's /tmp that is not bound (a course kept there) is read-only and empty inside.
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    if sockets is not None:
        args += ["--bind", str(sockets), str(sockets)]
    args += ["--remount-ro", "/"]  # the sandbox's own root too: only the binds above are writable
    home = workdir / ".home"
    env = {
        "HOME": str(home),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "IPYTHONDIR": str(home / "ipython"),
        "TMPDIR": str(workdir / ".tmp"),
        "COURSE_DATA_DIR": str(data_dir),
        "COURSE_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",  # the same submission graded twice runs the same way
        "TQDM_MININTERVAL": "1",
    }
    args.append("--clearenv")
    for name, value in env.items():
        args += ["--setenv", name, value]
    return [*args, "--"]


def check_available(data_dir: Path) -> None:
    """Start a throw-away sandbox that must fail to reach the network and to write outside."""
    with tempfile.TemporaryDirectory(prefix="coursekit-sandbox-check-") as scratch:
        work = Path(scratch)
        probe = (
            "import socket, pathlib, sys\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); sys.exit('network reachable')\n"
            "except OSError: pass\n"
            f"assert not pathlib.Path({str(ROOT / 'solutions')!r}).exists(), 'solutions/ visible'\n"
            "pathlib.Path('ok').write_text('ok')\n"
        )
        try:
            command = [*bwrap_command(work, data_dir), sys.executable, "-c", probe]
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SandboxUnavailable(f"bubblewrap could not start: {error}") from error
        if result.returncode != 0 or not (work / "ok").is_file():
            raise SandboxUnavailable(
                f"bubblewrap could not start a sandbox here (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-500:]}"
            )


def prepare_home(home: Path) -> None:
    """The kernel's home: IPython and matplotlib folders, with this machine's font cache copied in
    (building it inside every sandbox would cost seconds per submission)."""
    (home / "ipython").mkdir(parents=True, exist_ok=True)
    (home / "matplotlib").mkdir(parents=True, exist_ok=True)
    (home.parent / ".tmp").mkdir(exist_ok=True)
    try:
        import matplotlib

        for cache in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
            shutil.copy(cache, home / "matplotlib" / cache.name)
    except (ImportError, OSError):
        pass


def socket_folder() -> Path:
    """A short private folder for the kernel's Unix sockets (their paths must stay under 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix="ck-", dir="/tmp"))


def write_spec(path: Path, workdir: Path, prefix: list[str], kernel_dir: Path) -> None:
    """Describe the sandbox for :class:`SandboxedKernelManager`; its sockets live in ``kernel_dir``."""
    spec = {
        "prefix": prefix,
        "workdir": str(workdir),
        "ipc_prefix": str(kernel_dir / "ipc"),
        "connection_file": str(kernel_dir / "connection.json"),
    }
    path.write_text(json.dumps(spec))


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that launches the kernel inside the sandbox named by the spec file.

    Interrupts travel as messages on the control channel (a signal would reach bwrap, not the
    kernel); the sockets are Unix sockets (``ipc``) inside the kernel's writable folder.
    """

    def __init__(self, **kwargs: Any) -> None:
        spec_path = os.environ.get(SPEC_VARIABLE)
        if not spec_path:
            raise SandboxUnavailable(f"{SPEC_VARIABLE} is not set: no sandbox to start the kernel in")
        self._sandbox = json.loads(Path(spec_path).read_text())
        Path(self._sandbox["connection_file"]).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", self._sandbox["ipc_prefix"])
        kwargs.setdefault("connection_file", self._sandbox["connection_file"])
        super().__init__(**kwargs)

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        assert self.kernel_spec is not None
        self.kernel_spec.interrupt_mode = "message"
        command, kw = await super()._async_pre_start_kernel(**kw)
        workdir = Path(self._sandbox["workdir"])
        prepare_home(workdir / ".home")
        kw["cwd"] = str(workdir)
        return [*self._sandbox["prefix"], *command], kw
