"""Command line: ``python -m coursekit COMMAND …`` (see ``--help``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat


def _build(args: argparse.Namespace) -> int:
    from coursekit.lessons import find_lesson
    from coursekit.notebooks import build

    for source in args.sources:
        path = build(Path(source), find_lesson(source), run=not args.no_run)
        print(f"built {path}")
    return 0


def _execute(args: argparse.Namespace) -> int:
    from coursekit.lessons import find_lesson
    from coursekit.notebooks import execute_file

    for name in args.lessons:
        execute_file(find_lesson(name).solution)
        print(f"executed {find_lesson(name).solution}")
    return 0


def _stamp(args: argparse.Namespace) -> int:
    from coursekit.lessons import find_lesson
    from coursekit.notebooks import stamp_translations

    for name in args.lessons:
        path = find_lesson(name).solution
        nb = nbformat.read(path, as_version=4)
        count = stamp_translations(nb)
        nbformat.write(nb, path)
        print(f"{path}: stamped {count} Vietnamese cells as current")
    return 0


def _check(args: argparse.Namespace) -> int:
    from coursekit.checks import check_lesson
    from coursekit.lessons import LESSONS, find_lesson

    lessons = [find_lesson(name) for name in args.lessons] or list(LESSONS)
    failed = 0
    for lesson in lessons:
        problems = check_lesson(lesson) if lesson.solution.is_file() else ["solution notebook missing"]
        print(f"{lesson.slug}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            print(f"  - {problem}")
        failed += bool(problems)
    return 1 if failed else 0


def _grade(args: argparse.Namespace) -> int:
    from coursekit.grading import GradingError, Settings, grade, outcomes_on_record, report, write_csv
    from coursekit.lessons import ROOT
    from coursekit.sandbox import SandboxUnavailable

    root = Path(args.root).resolve() if args.root else ROOT
    if args.no_autograde:
        outcomes = outcomes_on_record(root, args.assignments or None)
    else:
        settings = Settings(root=root, jobs=args.jobs, sandbox=not args.unsafe_no_sandbox, force=args.force)
        if args.unsafe_no_sandbox:
            print("WARNING: grading WITHOUT a sandbox: student code runs with your rights.", file=sys.stderr)
        try:
            outcomes = grade(root, args.assignments or None, settings=settings, progress=_progress)
        except (SandboxUnavailable, GradingError) as error:
            print(f"make grade refused: {error}", file=sys.stderr)
            print(
                "Install bubblewrap (apt-get install bubblewrap), or pass --unsafe-no-sandbox to run "
                "student code with your own rights (every row is then marked UNSAFE).",
                file=sys.stderr,
            )
            return 2
    if not outcomes:
        print(f"no submissions under {root / 'submitted'} (expected submitted/<student>/<assignment>/)")
        return 1
    print(report(outcomes))
    if args.export:
        write_csv(outcomes, Path(args.export))
        print(f"wrote {args.export}")
    problems = [row for row in outcomes if row.status != "graded"]
    if problems:
        print(f"\n{len(problems)} submission(s) need attention: see the status column above.")
    return 1 if problems else 0


def _progress(outcome: object) -> None:
    print(f"  graded {outcome.student} / {outcome.assignment}: {outcome.status}", file=sys.stderr, flush=True)


def _feedback(args: argparse.Namespace) -> int:
    from coursekit.feedback import generate_all
    from coursekit.lessons import ROOT

    root = Path(args.root).resolve() if args.root else ROOT
    lines = generate_all(root)
    print("\n".join(lines) if lines else f"nothing graded yet under {root / 'autograded'}: run `make grade`")
    return 1 if any(" FAILED: " in line for line in lines) else 0


def _workspace(args: argparse.Namespace) -> int:
    from coursekit.lessons import ROOT
    from coursekit.workspace import WORKSPACE, describe, sync

    target = Path(args.target) if args.target else WORKSPACE
    print(describe(sync(Path(args.source) if args.source else ROOT / "notebooks", target), target))
    return 0


def _set_repo(args: argparse.Namespace) -> int:
    from coursekit.lessons import ROOT
    from coursekit.repo import set_repo

    changed = set_repo(args.repo, args.branch, ROOT)
    for path in changed:
        print(f"updated {path.relative_to(ROOT)}")
    print(f"{len(changed)} file(s) changed: Colab now uses {args.repo} at {args.branch}; commit and push.")
    return 0


def _bench_grading(args: argparse.Namespace) -> int:
    from coursekit.bench_grading import main as bench_grading_main

    json_path = Path(args.json) if args.json else None
    return bench_grading_main(args.lessons, args.submissions, args.jobs, json_path)


def _bench(args: argparse.Namespace) -> int:
    from coursekit.bench import main as bench_main

    return bench_main(Path(args.json) if args.json else None, skip_pipeline=args.skip_pipeline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="py:percent text -> solutions/<slug>/<slug>.ipynb, executed")
    build.add_argument("sources", nargs="+")
    build.add_argument("--no-run", action="store_true", help="convert only, do not execute")
    build.set_defaults(handler=_build)

    execute = commands.add_parser("execute", help="re-run a solution notebook, keep checked outputs")
    execute.add_argument("lessons", nargs="+")
    execute.set_defaults(handler=_execute)

    stamp = commands.add_parser("stamp", help="mark the Vietnamese cells as translating the current English")
    stamp.add_argument("lessons", nargs="+")
    stamp.set_defaults(handler=_stamp)

    check = commands.add_parser("check", help="structure, nbgrader cells, bilingual pairs, glossary")
    check.add_argument("lessons", nargs="*")
    check.set_defaults(handler=_check)

    grade = commands.add_parser("grade", help="autograde submitted/ and account for every submission")
    grade.add_argument("assignments", nargs="*")
    grade.add_argument("--root", help="course folder (default: this repository)")
    grade.add_argument("--force", action="store_true", help="regrade submissions already graded unchanged")
    grade.add_argument(
        "-j", "--jobs", type=int, default=os.cpu_count() or 1, help="parallel workers (default: all cores)"
    )
    grade.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run student code without bubblewrap (marked on every row)",
    )
    grade.add_argument("--export", metavar="CSV", help="also write the table as CSV")
    grade.add_argument("--no-autograde", action="store_true", help="only report what is on record")
    grade.set_defaults(handler=_grade)

    feedback = commands.add_parser("feedback", help="feedback pages for every graded submission")
    feedback.add_argument("--root", help="course folder (default: this repository)")
    feedback.set_defaults(handler=_feedback)

    workspace = commands.add_parser("workspace", help="copy lessons missing from workspace/; never overwrite")
    workspace.add_argument("--source", help="the course's student copies (default: notebooks/)")
    workspace.add_argument("--target", help="the learner's own copies (default: workspace/)")
    workspace.set_defaults(handler=_workspace)

    set_repo = commands.add_parser("set-repo", help="point Colab badges and the Colab install at a fork")
    set_repo.add_argument("repo", metavar="OWNER/NAME")
    set_repo.add_argument("--branch", default="main")
    set_repo.set_defaults(handler=_set_repo)

    bench = commands.add_parser("bench", help="time every solution notebook and the data pipelines")
    bench.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    bench.add_argument("--skip-pipeline", action="store_true", help="notebooks only")
    bench.set_defaults(handler=_bench)

    bench_grading = commands.add_parser("bench-grading", help="grading throughput, serial vs parallel")
    bench_grading.add_argument("lessons", nargs="*", default=["01", "06"])
    bench_grading.add_argument("--submissions", type=int, default=4)
    bench_grading.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    bench_grading.add_argument("--json", metavar="PATH")
    bench_grading.set_defaults(handler=_bench_grading)

    # classroom: release, collect, return-feedback, export, setup (coursekit/classroom.py)
    from coursekit.classroom import add_commands as add_classroom_commands

    add_classroom_commands(commands)

    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
