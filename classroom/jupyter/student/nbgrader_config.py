"""nbgrader for a student's (or a learner's) Jupyter server: the course's exchange, nothing else.

JupyterHub points students' servers here (JUPYTER_CONFIG_PATH); so does `make lab`. It never
names the instructor's course folder. A learner alone gets a personal exchange folder, created
here if missing, so that the Assignments panel works without any set-up.
"""

from coursekit.exchange import configure, ensure_personal_exchange

configure(get_config())  # noqa: F821 — injected by traitlets when it loads this file
ensure_personal_exchange()
