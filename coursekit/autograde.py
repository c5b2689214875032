"""nbgrader preprocessors for one sandboxed autograde run (inside the grader, outside the sandbox).

nbgrader decides a test cell's points from its outputs: an error or *any* stderr output scores
zero, everything else full marks. That lets honest stderr (warnings, tqdm bars) cost points and
lets code that hides an exception earn them. Here a test cell passes only if it ran to its last
line: :class:`ArmTestCells` appends a print of a fresh random token to every test cell and a
probe cell after it; :class:`VerifyTestCells` turns "token missing" into an error output, and
"token present, no error" into a clean pass (stderr kept, shown as plain output), removes the
tokens and the probe cells, and compares the probes with the solution's (tamper evidence).

The plan (limits, the names the probe fingerprints, the solution's probes) comes from the JSON
file named by ``COURSEKIT_PLAN``; the findings go to the report file it names.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from jupyter_core.utils import run_sync
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade

from coursekit import integrity
from coursekit.sandbox import SandboxedKernelManager

PLAN_VARIABLE = "COURSEKIT_PLAN"
PROBE_MARK = "coursekit_probe"
PASS_PREFIX = "COURSEKIT-PASS-"
MIB = 1024**2


def load_plan() -> dict[str, Any]:
    return json.loads(Path(os.environ[PLAN_VARIABLE]).read_text())


def is_test_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and is_grade(cell) and not cell.metadata.get(PROBE_MARK)


def error_output(name: str, english: str, vietnamese: str) -> NotebookNode:
    text = f"{english}\n{vietnamese}"
    return new_output("error", ename=name, evalue=text, traceback=[f"{name}: {text}"])


def stop_reason(error: Exception, wall_s: float) -> str:
    """One short line for why the run stopped (never the cell's source, which may be a test)."""
    if "Timeout" in type(error).__name__:
        return f"time limit ({wall_s:g} s) reached"
    if "Dead" in type(error).__name__:
        return "the kernel died"
    return f"the kernel stopped ({type(error).__name__})"


class ArmTestCells(NbGraderPreprocessor):
    """Append a pass token to every test cell and insert a probe cell after each one."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        plan = load_plan()
        armed: dict[str, dict[str, str]] = {}
        cells = []
        for cell in nb.cells:
            cells.append(cell)
            if not is_test_cell(cell):
                continue
            grade_id = cell.metadata.nbgrader["grade_id"]
            token = PASS_PREFIX + secrets.token_hex(16)
            nonce = integrity.PROBE_TAG + "-" + secrets.token_hex(16)
            cell.source = f"{cell.source.rstrip()}\nprint({token!r})\n"
            probe = new_code_cell(integrity.probe_cell_source(nonce, plan["probe_names"]))
            probe.metadata[PROBE_MARK] = grade_id
            cells.append(probe)
            armed[grade_id] = {"token": token, "nonce": nonce}
        nb.cells = cells
        resources["coursekit"] = {"armed": armed, "plan": plan}
        return nb, resources


class SandboxedExecute(Execute):
    """nbgrader's Execute with the kernel in the sandbox, one deadline, and capped output.

    After a bound is hit (time, kernel death) nothing more runs: the cells that did not run get
    an error output naming the bound, so the submission is graded for what ran before it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(*args, **kwargs)
        self._stopped: str | None = None
        self._kept: dict[int, int] = {}
        self._total = 0
        self._capped = False

    def preprocess(self, nb: NotebookNode, resources: dict, km: Any = None) -> tuple[NotebookNode, dict]:
        plan = resources["coursekit"]["plan"]
        armed = resources["coursekit"]["armed"].values()
        self._tokens = [item["token"] for item in armed]
        self._nonces = [item["nonce"] for item in armed]
        self._secrets = self._tokens + self._nonces
        self.limits = plan["limits"]
        self.deadline = time.monotonic() + self.limits["wall_s"]
        self.timeout = max(1, int(self.limits["wall_s"]))
        self.interrupt_on_timeout = True
        try:
            nb, resources = super().preprocess(nb, resources, km=km)
        except Exception as error:  # the kernel died or would not start: account for it below
            self._stopped = self._stopped or stop_reason(error, self.limits["wall_s"])
        resources["coursekit"]["stopped"] = self._stopped
        resources["coursekit"]["output_capped"] = self._capped
        resources["coursekit"]["seconds"] = round(
            self.limits["wall_s"] - (self.deadline - time.monotonic()), 2
        )
        self._mark_not_run(nb)
        return nb, resources

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> dict | None:
        """Interrupt, record the bound, and give the cell its timeout error (even if the code ignores
        the interrupt: nothing after it runs, and the kernel is killed at shutdown)."""
        self._stopped = self._stopped or f"time limit ({self.limits['wall_s']:g} s) reached"
        return await super()._async_handle_timeout(timeout, cell)

    def _get_timeout(self, cell: NotebookNode | None) -> int:
        return max(1, int(self.deadline - time.monotonic()))

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int, *args: Any, **kwargs: Any) -> Any:
        if self._stopped or cell.cell_type != "code":
            return cell
        if time.monotonic() >= self.deadline:
            self._stopped = f"time limit ({self.limits['wall_s']:g} s) reached"
            return cell
        try:
            result = await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        except Exception as error:  # DeadKernelError and friends: the kernel is gone
            self._stopped = self._stopped or stop_reason(error, self.limits["wall_s"])
            return cell
        if time.monotonic() >= self.deadline:
            self._stopped = f"time limit ({self.limits['wall_s']:g} s) reached"
        return result

    # nbclient binds the synchronous wrapper to its own coroutine: rebind it to the override above.
    execute_cell = run_sync(async_execute_cell)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        """Cap what the submission prints; the grader's own token and probe lines always pass.

        Only the exact random tokens of this run count as the grader's: a student who prints
        something that merely looks like one is capped like any other output.
        """
        content = msg.get("content", {})
        text = content.get("text")
        if not isinstance(text, str) or not any(secret in text for secret in self._secrets):
            return self._keep_capped(outs, msg, display_id, cell_index)
        lines = text.splitlines(keepends=True)
        student = "".join(line for line in lines if not any(secret in line for secret in self._secrets))
        if student:
            self._keep_capped(outs, {**msg, "content": {**content, "text": student}}, display_id, cell_index)
        grader = []
        for line in lines:
            grader += [secret for secret in self._tokens if secret in line]
            grader += [line[line.index(nonce) :][: 4 * MIB] for nonce in self._nonces if nonce in line]
        text = "\n".join(item.rstrip("\n") for item in grader) + "\n"
        return super().output(outs, {**msg, "content": {**content, "text": text}}, display_id, cell_index)

    def _keep_capped(
        self, outs: list, msg: dict, display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        content = msg.get("content", {})
        size = len(json.dumps(content.get("data", content.get("text", ""))))
        kept = self._kept.get(cell_index, 0)
        limit = self.limits["output_bytes_per_cell"]
        if kept + size <= limit and self._total + size <= self.limits["output_bytes_total"]:
            self._kept[cell_index] = kept + size
            self._total += size
            return super().output(outs, msg, display_id, cell_index)
        if not self._capped_cell(cell_index):
            self._kept[cell_index] = limit + 1
            self._capped = True
            outs.append(
                new_output(
                    "stream",
                    name="stdout",
                    text="\n[output cut: the size limit for a cell was reached]"
                    "\n[đã cắt bớt đầu ra: vượt giới hạn kích thước của một ô]\n",
                )
            )
        return None

    def _capped_cell(self, cell_index: int) -> bool:
        return self._kept.get(cell_index, 0) > self.limits["output_bytes_per_cell"]

    def _mark_not_run(self, nb: NotebookNode) -> None:
        if not self._stopped:
            return
        for cell in nb.cells:
            if is_test_cell(cell) and cell.get("execution_count") is None and not cell.outputs:
                cell.outputs.append(
                    error_output(
                        "NotRun",
                        f"This test did not run: {self._stopped}.",
                        f"Bài kiểm tra này không được chạy: {self._stopped}.",
                    )
                )


class VerifyTestCells(NbGraderPreprocessor):
    """Decide each test cell by its token, then remove tokens and probes; write the report."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        state = resources["coursekit"]
        plan, armed = state["plan"], state["armed"]
        baseline = plan.get("baseline_probes") or {}
        report: dict[str, Any] = {"tests": {}, "probes": {}, "tamper": [], "stopped": state.get("stopped")}
        cells = []
        for cell in nb.cells:
            grade_id = cell.metadata.get(PROBE_MARK)
            if grade_id is not None:
                probe = integrity.read_probe(cell.get("outputs", []), armed[grade_id]["nonce"])
                report["probes"][grade_id] = probe
                silenced = (
                    probe is None and cell.get("execution_count") is not None and not state.get("stopped")
                )
                if grade_id in baseline and silenced:
                    report["tamper"].append(f"after test {grade_id}: the integrity probe was silenced")
                elif grade_id in baseline and probe is not None:
                    changes = integrity.compare(baseline[grade_id], probe)
                    report["tamper"] += [f"after test {grade_id}: {change}" for change in changes]
                continue
            if is_test_cell(cell) and cell.metadata.nbgrader["grade_id"] in armed:
                report["tests"][cell.metadata.nbgrader["grade_id"]] = self._settle(
                    cell, armed[cell.metadata.nbgrader["grade_id"]]["token"]
                )
            cells.append(cell)
        nb.cells = cells
        report["output_capped"] = state.get("output_capped", False)
        report["seconds"] = state.get("seconds")
        Path(plan["report_file"]).write_text(json.dumps(report, indent=1))
        return nb, resources

    @staticmethod
    def _settle(cell: NotebookNode, token: str) -> bool:
        """Pass = the token was printed and no error shown. Returns whether the test passed."""
        reached = False
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                lines = str(output.get("text", "")).splitlines(keepends=True)
                kept = [line for line in lines if token not in line]
                reached = reached or len(kept) < len(lines)
                output["text"] = "".join(kept)
                if not output["text"]:
                    continue
            if output.get("output_type") == "execute_result":
                continue  # nbgrader would read a number here as partial credit
            outputs.append(output)
        failed = any(output.get("output_type") == "error" for output in outputs)
        passed = reached and not failed
        if passed:
            for output in outputs:  # honest stderr (warnings, progress bars) costs nothing
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
        elif not failed:
            outputs.append(
                error_output(
                    "TestDidNotFinish",
                    "This test cell did not run to its end, so its checks did not all pass.",
                    "Ô kiểm tra này không chạy đến cuối, nên các kiểm tra của nó chưa đạt hết.",
                )
            )
        cell.outputs = outputs
        return passed


class RefuseUnsandboxed(NbGraderPreprocessor):
    """Registered in the course's own nbgrader config: a plain ``nbgrader autograde`` (or the
    Formgrader's autograde button) would run student code with the instructor's rights."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        raise RuntimeError(
            "Autograde student code with `make grade` (python -m coursekit grade): it runs each "
            "submission in a sandbox. Plain `nbgrader autograde` is switched off for this course."
        )
