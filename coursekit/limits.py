"""Per-submission bounds: wall clock, memory, processes, file size and kept output.

Memory and process counts are enforced with a control group of the submission's own when the
grader may create one (root on a cgroup v1 or v2 host): the limit then covers the kernel and
everything it starts, and every process in it can be killed at the end. Elsewhere the kernel
gets resource limits instead (``prlimit``): ``RLIMIT_DATA`` (private writable memory) per process
— not the address space, which the CUDA build of torch reserves by the gigabyte without using
(VmPeak 4.1–4.7 GiB for 1–1.5 GiB resident) — and a process limit that counts every process of
the grading user.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3
MIB = 1024**2
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Limits:
    """What one submission may use. ``wall_s`` is set per lesson from the solution's own time."""

    wall_s: float = 300.0
    memory_bytes: int = 4 * GIB
    processes: int = 256  # tasks: threads count too (torch and the kernel start a few dozen)
    file_bytes: int = 256 * MIB  # largest file the submission may write
    output_bytes_per_cell: int = 1 * MIB  # kept in the autograded notebook and the feedback (plots fit)
    output_bytes_total: int = 8 * MIB

    @staticmethod
    def wall_for(solution_seconds: float) -> float:
        """A generous budget derived from the lesson's own solution time on this machine."""
        return round(max(60.0, 4.0 * solution_seconds + 30.0), 1)

    def describe(self) -> str:
        return (
            f"{self.wall_s:g} s wall clock, {self.memory_bytes / GIB:g} GiB memory, "
            f"{self.processes} tasks, files ≤ {self.file_bytes // MIB} MiB, "
            f"output ≤ {self.output_bytes_per_cell // MIB} MiB per cell"
        )


class Cgroup:
    """One control group (v1: pids + memory hierarchies; v2: the unified one) for one submission."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits
        self.dirs = self._hierarchies(name)

    @staticmethod
    def _hierarchies(name: str) -> dict[str, Path]:
        if (CGROUP_ROOT / "cgroup.controllers").is_file():  # v2 unified
            return {"v2": CGROUP_ROOT / "coursekit" / name}
        return {kind: CGROUP_ROOT / kind / "coursekit" / name for kind in ("pids", "memory")}

    @classmethod
    @functools.cache
    def available(cls) -> bool:
        """True when a group can be created and limited here (checked by doing it)."""
        probe = cls(f"probe-{os.getpid()}", Limits())
        try:
            probe.create()
        except OSError:
            return False
        probe.remove()
        return True

    def create(self) -> None:
        for kind, path in self.dirs.items():
            if kind == "v2":
                parent = path.parent
                parent.mkdir(exist_ok=True)
                _write(parent / "cgroup.subtree_control", "+pids +memory")
            path.mkdir(parents=True, exist_ok=True)
        self._write_limits()

    def _write_limits(self) -> None:
        memory, tasks = str(self.limits.memory_bytes), str(self.limits.processes)
        if "v2" in self.dirs:
            _write(self.dirs["v2"] / "memory.max", memory)
            _write(self.dirs["v2"] / "memory.swap.max", "0", missing_ok=True)
            _write(self.dirs["v2"] / "pids.max", tasks)
        else:
            _write(self.dirs["memory"] / "memory.limit_in_bytes", memory)
            _write(self.dirs["memory"] / "memory.memsw.limit_in_bytes", memory, missing_ok=True)
            _write(self.dirs["pids"] / "pids.max", tasks)

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def bounds_hit(self) -> list[str]:
        """Which limits the group ran into (read after the run, before removing it)."""
        hit = []
        if "v2" in self.dirs:
            events = _read(self.dirs["v2"] / "memory.events")
            if _count(events, "oom_kill") or _count(events, "max"):
                hit.append("memory")
            if _count(_read(self.dirs["v2"] / "pids.events"), "max"):
                hit.append("processes")
        else:
            if int(_read(self.dirs["memory"] / "memory.failcnt") or 0) > 0:
                hit.append("memory")
            if _count(_read(self.dirs["pids"] / "pids.events"), "max"):
                hit.append("processes")
        return hit

    def pids(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            found |= {int(pid) for pid in _read(Path(procs)).split()}
        return found

    def kill_all(self, timeout_s: float = 10.0) -> None:
        """SIGKILL every process in the group until it is empty."""
        deadline = time.monotonic() + timeout_s
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        for path in self.dirs.values():
            with contextlib.suppress(OSError):
                path.rmdir()


def rlimit_prefix(limits: Limits, *, with_cgroup: bool) -> list[str]:
    """``prlimit`` settings for the kernel; without a cgroup they carry memory and process limits."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        return []
    args = [prlimit, f"--fsize={limits.file_bytes}", "--core=0"]
    if not with_cgroup:
        args += [f"--data={limits.memory_bytes}", f"--nproc={limits.processes}"]
    return [*args, "--"]


def _write(path: Path, value: str, *, missing_ok: bool = False) -> None:
    try:
        path.write_text(value)
    except FileNotFoundError:
        if not missing_ok:
            raise


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _count(events: str, key: str) -> int:
    for line in events.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value or 0)
    return 0
