"""Corpora → utterance table → label scheme → folds.

``load_corpus`` reads a corpus into the utterance table (columns in
:data:`sertext.data.table.COLUMNS`), ``four_class`` applies the standard label scheme and
``make_folds`` splits the table by an evaluation protocol.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .audio import AudioError, read_wav, wav_problems
from .iemocap import read_iemocap
from .labels import FOUR_CLASSES, four_class
from .msp_podcast import read_msp_podcast
from .protocols import PROTOCOLS, Fold, cross_corpus_set, make_folds, used_utterances
from .table import COLUMNS, CorpusError, Problem, Problems, check_table, count_problems, problems_of

CORPORA = ("iemocap", "msp-podcast")

__all__ = [
    "AudioError", "COLUMNS", "CORPORA", "CorpusError", "FOUR_CLASSES", "Fold", "PROTOCOLS",
    "Problem", "check_table", "count_problems", "cross_corpus_set", "four_class", "load_corpus", "make_folds",
    "problems_of", "read_wav", "used_utterances",
]


def load_corpus(
    name: str,
    root,
    *,
    on_error: str = "raise",
    check_audio: bool = False,
    dialogue_acts=None,
) -> pd.DataFrame:
    """Read a corpus into the utterance table.

    Args:
        name: ``"iemocap"`` (also reads the demo corpus) or ``"msp-podcast"``.
        root: the corpus folder.
        on_error: ``"raise"`` stops with a :class:`CorpusError` listing every error (file and
            line) found; ``"collect"`` leaves the affected rows out and keeps the errors in
            ``table.attrs["problems"]`` (what ``sertext check-corpus`` does).
        check_audio: also decode every wav: unreadable or empty files and NaN samples are
            errors, other sample rates or channel counts notes (they are converted on read), and
            so is clipping (a quality note; the utterance is kept).
        dialogue_acts: IEMOCAP only: EMOTyDA CSV file or folder; adds ``dialogue_act``.

    Returns:
        One row per utterance; ``table.attrs["problems"]`` lists every skipped line and every
        documented handling applied, so nothing is lost silently.
    """
    if on_error not in ("raise", "collect"):
        raise ValueError(f"on_error must be 'raise' or 'collect', got {on_error!r}")
    if name == "iemocap":
        table = read_iemocap(root, dialogue_acts=dialogue_acts)
    elif name == "msp-podcast":
        if dialogue_acts is not None:
            raise ValueError("dialogue_acts applies to IEMOCAP only")
        table = read_msp_podcast(root)
    else:
        raise ValueError(f"unknown corpus {name!r}; expected one of {CORPORA}")
    problems = list(problems_of(table))
    if check_audio:
        table, audio_problems = _check_audio(table)
        problems += audio_problems
    table.attrs["problems"] = Problems(problems)
    errors = [p for p in problems if p.severity == "error"]
    if errors and on_error == "raise":
        raise CorpusError(name, str(Path(root)), errors)
    check_table(table)
    return table


def _check_audio(table: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """The table without the wavs :func:`read_wav` would refuse, and every wav problem found."""
    problems, bad = [], []
    for index, path in table["path"].items():
        for severity, kind, detail in wav_problems(path):
            problems.append(Problem(kind, severity, path, None, detail))
            if severity == "error":
                bad.append(index)
    return table.drop(index=bad), problems
