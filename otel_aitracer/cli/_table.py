"""Plain-text tables and the number formats every CLI command shares.

A table fits the terminal it is printed to: columns the reader can do without go first (``optional``, in
that order), then the widest free-text columns (``shrinkable``) are cut with an ellipsis. Printed to a pipe
or a file, nothing is cut: what reads it (grep, a file) gets every column whole."""

from __future__ import annotations

import math
import shutil
import sys
from typing import Any, Sequence

_GAP = "  "
_NARROWEST = 6  # a shrinkable column keeps at least this many characters


def terminal_width() -> int | None:
    """The terminal's width (``COLUMNS`` wins, as usual) when printing to one; None (no limit) otherwise."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], width: int | None = None, optional: Sequence[int] = (), shrinkable: Sequence[int] = ()
) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    keep = list(range(len(headers)))
    widths = {i: max(len(row[i]) for row in cells) for i in keep}

    def total() -> int:
        return sum(widths[i] for i in keep) + len(_GAP) * (len(keep) - 1)

    for column in optional:
        if width is None or total() <= width:
            break
        keep.remove(column)
    for column in sorted(shrinkable, key=lambda i: -widths[i]):
        if width is None or total() <= width:
            break
        widths[column] = max(_NARROWEST, widths[column] - (total() - width))
    lines = [_GAP.join(_cut(row[i], widths[i]).ljust(widths[i]) for i in keep).rstrip() for row in cells]
    lines.insert(1, _GAP.join("-" * widths[i] for i in keep))
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cost(value: float | None) -> str:
    """Dollars: cents-sized and larger to four places, smaller ones to two significant digits ($0.0000021)."""
    if value is None:
        return ""
    if value == 0 or value >= 0.01:
        return f"${value:.4f}"
    return f"${value:.{1 - math.floor(math.log10(value))}f}"


def ms(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}ms"
