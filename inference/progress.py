"""Progress bars for the long commands (evaluate, replay, train_detector, the export's --wait):
tqdm on stderr, and only when stderr is a terminal, so what goes to stdout, whose last line is one
JSON object for the scripts that read it, is byte for byte the same with or without a bar."""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(iterable=None, *, desc: str, unit: str, total: int | None = None) -> tqdm:
    """A bar over `iterable` (or one to `update` by hand), drawn on stderr if it is a TTY."""
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not _is_tty(sys.stderr),
        leave=False,  # gone when done: the terminal keeps the report, not the bar
    )


def say(line: str) -> None:
    """A line of stdout that does not tear a bar drawn on the terminal (plain print otherwise)."""
    tqdm.write(line, file=sys.stdout)


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
