"""nbgrader configuration: `solutions/` is the instructor source, `notebooks/` the student release.

Run nbgrader from the repository root (``--config=`` is silently ignored by nbgrader 0.9).
"""

from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

from coursekit.feedback import HideTestSources

c = get_config()  # noqa: F821 — injected by traitlets when it loads this file

ROOT = Path(__file__).resolve().parent

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'gradebook.db'}"
# Never copy editor leftovers or scratch files into the student release.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.py",
    "*.pt",
    "*.pth",
    "models",
]

# nbgrader 0.9 reads this key (ExecutePreprocessor.timeout is ignored). Interrupt-on-timeout
# stays on: turning it off aborts a whole submission instead of failing one cell.
c.Execute.timeout = 600

# Feedback must not reveal hidden tests: drop them from the source and keep only the
# error's message (never the traceback, which quotes the failing hidden line).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, HideTestSources, CSSHTMLHeaderPreprocessor]
