"""nbgrader configuration: `solutions/` is the instructor source, `notebooks/` the student release.

Run nbgrader from the repository root (``--config=`` is silently ignored by nbgrader 0.9).
"""

from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

from coursekit.autograde import RefuseUnsandboxed
from coursekit.exchange import configure as configure_exchange
from coursekit.feedback import HideTestSources, NeutralizeMarkers, ScrubLeaks
from coursekit.student_copy import CODE_STUB, student_copy_preprocessors

c = get_config()  # noqa: F821 — injected by traitlets when it loads this file

ROOT = Path(__file__).resolve().parent

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'gradebook.db'}"
# The exchange (release, submit, collect, feedback): course id and folder from COURSE_ID and
# COURSE_EXCHANGE, else classroom/site.json (a class server), else a per-user folder; with the
# course's private submit and owner-checked collect (coursekit/exchange.py).
configure_exchange(c)
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

# nbgrader 0.9 reads this key (ExecutePreprocessor.timeout is ignored) for `nbgrader validate`.
# Interrupt-on-timeout stays on: turning it off aborts a whole notebook instead of failing one cell.
c.Execute.timeout = 600

# Student copies (coursekit/student_copy.py): the stub of an answer cell names its exercise and
# says in both languages what to do; `# NBVAL_CHECK_OUTPUT` cells keep their reference output.
c.ClearSolutions.code_stub = {"python": CODE_STUB}
c.GenerateAssignment.preprocessors = student_copy_preprocessors()

# Student code is autograded only by `make grade` (coursekit/grading.py): sandboxed, bounded, one
# submission at a time per worker. A plain `nbgrader autograde` here would run it unsandboxed.
c.Autograde.autograde_preprocessors = [RefuseUnsandboxed]

# Feedback must not reveal hidden tests or solutions: defuse marker text a student typed, drop
# hidden tests from the source, keep only a failed test's message (its traceback quotes the hidden
# line), and remove any hidden or solution line from every source and output (coursekit/feedback.py).
c.GenerateFeedback.preprocessors = [
    GetGrades,
    NeutralizeMarkers,
    ClearHiddenTests,
    HideTestSources,
    ScrubLeaks,
    CSSHTMLHeaderPreprocessor,
]
