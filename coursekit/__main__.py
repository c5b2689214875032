"""Command line: ``python -m coursekit COMMAND …`` (see ``--help``)."""

from __future__ import annotations

import argparse
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

    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
