"""MSP-Podcast reader.

Raw corpus layout (docs/datasets.md §4)::

    MSP-Podcast/
        Audios/<FileName>.wav                 flat (some copies nest Audios/Audios/)
        Labels/labels_consensus.csv           (releases ≤ 1.8: labels_concensus.csv, sic)
        Transcripts/<FileName stem>.txt       one line per turn, when present

``labels_consensus.csv`` has the columns
``FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set``; ``FileName`` includes
``.wav``.  Attributes are means of 7-point ratings.  ``SpkrID`` and ``Gender`` may be
``Unknown`` (read as missing).  ``Split_Set`` is ``Train``, ``Development`` (``Validation`` in old
releases), ``Test1``, ``Test2``, ``Test3``; Test3 rows have no labels and are kept with missing
labels; an unknown or missing split value is kept as data and noted.  Rows whose field count
differs from the header's, or whose attributes are not numbers or lie outside 1–7, are errors; an
``EmoClass`` outside :data:`EMOTION_CODES` is kept and noted.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from .table import ProblemLog, Problems, make_table, out_of_range

LABEL_FILES = ("labels_consensus.csv", "labels_concensus.csv")
REQUIRED_COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")
KNOWN_SPLITS = ("Train", "Development", "Validation", "Test1", "Test2", "Test3")
#: EmoClass codes (docs/datasets.md §4.3); others are kept and noted.
EMOTION_CODES = ("A", "H", "S", "N", "U", "F", "D", "C", "O", "X")
VAD_RANGE = (1.0, 7.0)  # means of 7-point Likert ratings
_GENDERS = {"Male": "M", "Female": "F"}


def read_msp_podcast(root) -> pd.DataFrame:
    """Read an MSP-Podcast release into the utterance table.

    Args:
        root: the release folder holding ``Audios/``, ``Labels/`` and (optionally) ``Transcripts/``.

    Returns:
        The utterance table with problems in ``table.attrs["problems"]`` (rows with errors are
        left out; :func:`sertext.data.load_corpus` decides whether errors stop the load).
    """
    root = Path(root).expanduser().resolve()
    label_file = _find_label_file(root)
    log = ProblemLog()
    audio = _index_audio(root)
    transcripts = root / "Transcripts"
    if not transcripts.is_dir():
        log.note("missing_transcript_folder", transcripts, None, "no Transcripts/ folder; all text set to ''")
        transcripts = None
    rows, seen = [], {}
    for number, record in _label_records(label_file, log):
        row = _row(record, label_file, number, audio, transcripts, log)
        if row is None:
            continue
        if row["utt_id"] in seen:
            log.error("duplicate_utt_id", label_file, number,
                      f"{record['FileName']} already listed at line {seen[row['utt_id']]}")
            continue
        seen[row["utt_id"]] = number
        rows.append(row)
    table = make_table(rows)
    table.attrs["problems"] = Problems(log.problems)
    return table


def _find_label_file(root: Path) -> Path:
    for name in LABEL_FILES:
        path = root / "Labels" / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"No Labels/{' or Labels/'.join(LABEL_FILES)} under {root}")


def _label_records(label_file: Path, log: ProblemLog):
    """``(line number, {column: value})`` per row of the label CSV.

    A header without the required columns and a row with more or fewer fields than the header
    are errors (a ragged row would shift its values into the wrong columns); blank lines are
    skipped.
    """
    lines = log.read_lines(label_file)
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")  # a UTF-8 byte-order mark
    reader = csv.reader(lines)
    header = [name.strip() for name in next(reader, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        log.error("malformed_header", label_file, 1, f"missing columns {missing}")
        return
    for fields in reader:
        if not any(value.strip() for value in fields):
            continue
        if len(fields) != len(header):
            log.error("malformed_row", label_file, reader.line_num,
                      f"{len(fields)} fields where the header has {len(header)}: {','.join(fields)!r}")
            continue
        yield reader.line_num, dict(zip(header, fields, strict=True))


def _index_audio(root: Path) -> dict:
    """File name -> absolute path for every wav in ``Audios/`` and a nested ``Audios/Audios/``."""
    index = {}
    for folder in (root / "Audios" / "Audios", root / "Audios"):
        if folder.is_dir():
            for entry in os.scandir(folder):
                if entry.name.endswith(".wav") and not entry.name.startswith("."):
                    index.setdefault(entry.name, str(folder / entry.name))
    return index


def _row(record: dict, label_file: Path, number: int, audio: dict, transcripts, log: ProblemLog):
    file_name = (record["FileName"] or "").strip()
    if not file_name.endswith(".wav"):
        log.error("malformed_row", label_file, number, f"FileName {file_name!r} is not a .wav name")
        return None
    try:
        attributes = {c: _float(record[c]) for c in ("EmoAct", "EmoVal", "EmoDom")}
    except ValueError as exc:
        log.error("malformed_row", label_file, number, f"attribute is not a number: {exc}")
        return None
    outside = out_of_range(attributes, *VAD_RANGE)
    if outside:
        log.error("vad_out_of_range", label_file, number, f"{file_name}: {outside} (means of 1–7 ratings)")
        return None
    if file_name not in audio:
        log.error("missing_wav", label_file, number, f"{file_name} is not in Audios/")
        return None
    split, emotion = record["Split_Set"].strip() or None, _known(record["EmoClass"])
    _note_labels(file_name, split, emotion, log, label_file, number)
    stem = file_name[:-4]
    return {
        "utt_id": stem,
        "corpus": "msp-podcast",
        "path": audio[file_name],
        "speaker": _known(record["SpkrID"]),
        "session": None,
        "gender": _GENDERS.get((record["Gender"] or "").strip()),
        "text": _transcript(transcripts / f"{stem}.txt", log) if transcripts else "",
        "emotion": emotion,
        "arousal": attributes["EmoAct"],
        "valence": attributes["EmoVal"],
        "dominance": attributes["EmoDom"],
        "mode": None,
        "split": split,
    }


def _note_labels(file_name: str, split, emotion, log: ProblemLog, label_file: Path, number: int) -> None:
    """Note a missing or unknown split and an unknown emotion code (all kept as data)."""
    if split is None:
        log.note("missing_split", label_file, number, f"{file_name}: no Split_Set; kept, in no msp-official set")
    elif split not in KNOWN_SPLITS:
        log.note("unknown_split", label_file, number,
                 f"{file_name}: split {split!r} kept as data, in no msp-official set")
    if emotion is not None and emotion not in EMOTION_CODES:
        log.note("unknown_emotion", label_file, number, f"{file_name}: unknown emotion code {emotion!r} kept as data")


def _float(value: str | None) -> float:
    value = (value or "").strip()
    return float(value) if value else float("nan")


def _known(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value in ("", "Unknown") else value


def _transcript(path: Path, log: ProblemLog) -> str:
    """The one-line transcript, or '' (noted) when the file is missing or empty."""
    if not path.is_file():
        log.note("missing_transcript", path, None, "no transcript file; text set to ''")
        return ""
    lines = [line.strip() for line in log.read_lines(path) if line.strip()]
    if not lines:
        log.note("empty_transcript", path, None, "transcript file is empty; text set to ''")
        return ""
    if len(lines) > 1:
        log.note("multi_line_transcript", path, None, f"{len(lines)} lines joined with spaces")
    return " ".join(lines)
