"""A feedback preprocessor that keeps a failed test's message but not its source lines.

nbgrader's ``ClearHiddenTests`` removes hidden tests from a cell's source, yet the error output
of a failed hidden assert still carries a traceback that quotes the failing line. For graded
cells we keep only ``ename: evalue`` — the bilingual message the course's checks write.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor


class HideTestSources(NbGraderPreprocessor):
    """Reduce the traceback of every failed graded cell to its error name and message.

    (An nbgrader preprocessor, because plain nbconvert ones are disabled unless configured.)
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
