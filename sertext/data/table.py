"""The utterance table: its columns, their types, and the problems found while reading a corpus.

Every corpus reader returns one table with the columns in :data:`COLUMNS` (and may add
reader-specific ones after them).  Problems met while reading are never dropped silently:
each is a :class:`Problem`, kept in ``table.attrs["problems"]`` and shown by
``sertext check-corpus``.  Problems of severity ``"error"`` stop :func:`load_corpus` unless the
caller asked to collect them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: The contract columns, in order (DESIGN.md, "Utterance table").
COLUMNS = (
    "utt_id",
    "corpus",
    "path",
    "speaker",
    "session",
    "gender",
    "text",
    "emotion",
    "arousal",
    "valence",
    "dominance",
    "mode",
    "split",
)

_STRING_COLUMNS = ("utt_id", "corpus", "path", "speaker", "gender", "text", "emotion", "mode", "split")
_FLOAT_COLUMNS = ("arousal", "valence", "dominance")


@dataclass(frozen=True)
class Problem:
    """One thing found wrong or unusual in a corpus.

    Attributes:
        kind: short machine-readable name, e.g. ``"missing_wav"``; ``check-corpus`` counts by it.
        severity: ``"error"`` (the row cannot be used; loading stops unless collecting) or
            ``"note"`` (a documented handling was applied, e.g. a skipped ``XX`` line).
        file: the file the problem is in (absolute path).
        line: 1-based line number in ``file``, or ``None`` when it is about the whole file.
        detail: what was found and what was done about it.
    """

    kind: str
    severity: str
    file: str
    line: int | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.detail}"


class Problems(tuple):
    """An immutable sequence of :class:`Problem`.

    pandas deep-copies ``DataFrame.attrs`` on most operations; being immutable, this sequence is
    shared instead of copied, so a table with many recorded problems stays fast to work with.
    """

    def __deepcopy__(self, memo):
        return self


@dataclass
class ProblemLog:
    """The problems met while reading one corpus, in the order found."""

    problems: list[Problem] = field(default_factory=list)

    def note(self, kind: str, file, line: int | None, detail: str) -> None:
        """Record a documented handling (the reader carried on)."""
        self.problems.append(Problem(kind, "note", str(file), line, detail))

    def error(self, kind: str, file, line: int | None, detail: str) -> None:
        """Record an error (the affected row is left out of the table)."""
        self.problems.append(Problem(kind, "error", str(file), line, detail))

    def read_lines(self, path: Path) -> list[str]:
        """Lines of a text file (any line ending); bytes that are not UTF-8 are replaced and
        the line is noted."""
        lines = []
        for number, raw in enumerate(Path(path).read_bytes().splitlines(), start=1):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                self.note("not_utf8", path, number, "line is not UTF-8; undecodable bytes replaced")
                lines.append(raw.decode("utf-8", errors="replace"))
        return lines


class CorpusError(ValueError):
    """A corpus could not be read; the message lists every error with file and line."""

    def __init__(self, corpus: str, root: str, errors: list[Problem]):
        self.errors = errors
        shown = "\n".join(f"  {p}" for p in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(
            f"{len(errors)} error(s) while reading {corpus} at {root} "
            f"(run `sertext check-corpus {corpus} {root}` to see every problem):\n{shown}{more}"
        )


def out_of_range(values: dict, low: float, high: float) -> str:
    """The values outside ``[low, high]``, described for a problem ('' when all are inside).

    Missing values (NaN) pass: a missing attribute is not out of range.

    Examples:
        >>> out_of_range({"valence": 2.5, "arousal": 9.0, "dominance": float("nan")}, 1, 5)
        'arousal 9 outside 1–5'
    """
    outside = [f"{name} {value:g}" for name, value in values.items() if value == value and not low <= value <= high]
    return f"{', '.join(outside)} outside {low:g}–{high:g}" if outside else ""


def make_table(rows: list[dict], extra_columns=()) -> pd.DataFrame:
    """Build the utterance table from reader rows, with contract column types.

    Missing values are ``pd.NA`` in string columns, ``NaN`` in float ones, and ``<NA>`` in the
    nullable-integer ``session`` column.  ``attrs["problems"]`` starts empty.
    """
    columns = list(COLUMNS) + [c for c in extra_columns if c not in COLUMNS]
    table = pd.DataFrame(rows, columns=columns)
    for name in _STRING_COLUMNS:
        table[name] = table[name].astype("string")
    for name in _FLOAT_COLUMNS:
        table[name] = pd.to_numeric(table[name], errors="raise").astype("float64")
    table["session"] = table["session"].astype("Int64")
    table.attrs["problems"] = Problems()
    return table


def problems_of(table: pd.DataFrame) -> Problems:
    """The problems recorded while reading ``table`` (empty when none)."""
    return Problems(table.attrs.get("problems", ()))


def count_problems(problems: Iterable[Problem]) -> Counter:
    """Counts of problems by ``(severity, kind)``."""
    return Counter((p.severity, p.kind) for p in problems)


def check_table(table: pd.DataFrame) -> None:
    """Raise ``ValueError`` if ``table`` breaks the utterance-table contract.

    Checks the contract columns exist, ``utt_id`` is unique and non-missing, ``text`` has no
    missing values (empty strings are allowed) and ``gender`` is ``"F"``, ``"M"`` or missing.
    """
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"utterance table lacks columns {missing}")
    if table["utt_id"].isna().any():
        raise ValueError("utterance table has missing utt_id values")
    dupes = table.loc[table["utt_id"].duplicated(), "utt_id"].tolist()
    if dupes:
        raise ValueError(f"utterance table has duplicate utt_id values: {dupes[:5]}")
    if table["text"].isna().any():
        raise ValueError("utterance table has missing text (use an empty string)")
    genders = set(table["gender"].dropna().unique()) - {"F", "M"}
    if genders:
        raise ValueError(f"unexpected gender values {sorted(genders)}; expected 'F', 'M' or missing")
