"""Maintenance tools for the course: build, check, release, grade and benchmark lessons.

Instructor-side only; learners never import it. Run ``python -m coursekit --help``.
"""
