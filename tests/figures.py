"""Figures tests report for the end of the run (printed by ``pytest_terminal_summary`` in tests/conftest.py)."""

FIGURES: list[str] = []


def report(line: str) -> None:
    FIGURES.append(line)
