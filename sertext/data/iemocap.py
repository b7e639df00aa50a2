"""IEMOCAP (``IEMOCAP_full_release``) reader; also reads the sertext demo corpus.

Raw corpus layout (docs/datasets.md §1)::

    IEMOCAP_full_release/Session1 … Session5/
        dialog/EmoEvaluation/<dialog>.txt      one labelled block per utterance
        dialog/transcriptions/<dialog>.txt     one line per turn
        sentences/wav/<dialog>/<utt>.wav       16 kHz utterance audio
        sentences/ForcedAlignment/<dialog>/<utt>.{wdseg,phseg,syseg}

Dialogs are named ``Ses0{1-5}{F|M}_{impro0N[a|b] | script0N_N[b]}``; utterances
``<dialog>_{F|M}NNN``.  The letter before the three-digit index is the speaker's gender; the
letter in ``SesNN{F|M}`` only says which actor wore the motion-capture markers, so the speaker is
``SesNN`` plus the last-group letter (10 actors).

EmoEvaluation blocks start with a TAB-separated header
``[start - end]<TAB>utt_id<TAB>code<TAB>[V, A, D]`` (V/A/D are the mean of the external
evaluators and may lie outside 1–5), followed by ``C-<rater>:`` categorical lines (one rater may
give several ``;``-separated categories) and ``A-<rater>:`` lines ``val N; act N; dom  N;`` (note
the double space).  Raters ``E*`` are external evaluators, ``F1``/``M1`` the actor's self-rating.
A header V/A/D outside 0.5–5.5 is an error; an emotion code outside :data:`EMOTION_CODES` is kept
and noted.

Transcription lines look like ``Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.``.  Lines
with ``XX`` ids (no wav, no label, not unique) and lines that do not match that pattern are
skipped and counted.  Tag-only utterances such as ``[LAUGHTER]`` keep their text; a line with no
text at all is kept with ``''`` and noted.

Optional EMOTyDA dialogue acts (``iemocap_session{1..5}.csv``: ``TURN,UTTERANCE,DA,EMOTION``,
CRLF) are joined as a ``dialogue_act`` column, missing where EMOTyDA has no row.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .table import CorpusError, Problem, ProblemLog, Problems, make_table, out_of_range

HEADER_RE = re.compile(
    r"^\[(\d+\.\d+) - (\d+\.\d+)\]\t(\S+)\t(\w+)\t\[(-?\d+(?:\.\d+)?), (-?\d+(?:\.\d+)?), (-?\d+(?:\.\d+)?)\]$"
)
TRANSCRIPT_RE = re.compile(
    r"^(Ses\d\d[FM]_\S+_[FM](?:\d{3}|XX\d)) \[(\d+\.\d+)-(\d+\.\d+)\]:\s?(.*)$"
)
UTT_ID_RE = re.compile(r"^Ses(\d\d)[FM]_(\S+)_([FM])(\d{3})$")
DIALOG_RE = re.compile(r"^Ses(\d\d)[FM]_(impro|script)\S*$")
RATER_RE = re.compile(r"^([CA])-([A-Za-z]+\d*):\s*(.*?)\s*(?:\((.*)\))?\s*$")
ATTRIBUTE_RE = re.compile(r"(val|act|dom)\s+(\d+(?:\.\d+)?)")
#: The emotion codes of EmoEvaluation headers (docs/datasets.md §1.3); others are kept and noted.
EMOTION_CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx")
# Header V/A/D are means on a 1–5 scale, yet 0.5 and 5.5 occur in the corpus (docs/datasets.md
# §1.3); values beyond these are errors, not ratings.
VAD_RANGE = (0.5, 5.5)

#: Columns the IEMOCAP reader adds after the contract columns.
EXTRA_COLUMNS = (
    "dialog",
    "start_s",
    "end_s",
    "rater_emotions",
    "self_emotions",
    "rater_vad",
)
DIALOGUE_ACT_HEADER = ["TURN", "UTTERANCE", "DA", "EMOTION"]
# The EMOTyDA tag set (its README), in the names reports print.
DIALOGUE_ACTS = {"g": "greeting", "q": "question", "ans": "answer", "o": "statement-opinion",
                 "s": "statement-non-opinion", "ap": "apology", "c": "command", "ag": "agreement",
                 "dag": "disagreement", "a": "acknowledge", "b": "backchannel", "oth": "others"}


@dataclass
class _Reading(ProblemLog):
    """Rows and problems accumulated while reading one corpus."""

    rows: list = field(default_factory=list)
    origins: dict = field(default_factory=dict)  # utt_id -> "file:line" of its header


def read_iemocap(root, *, dialogue_acts=None) -> pd.DataFrame:
    """Read an IEMOCAP_full_release copy (or the demo corpus) into the utterance table.

    Args:
        root: the ``IEMOCAP_full_release`` folder (holding ``Session1`` … ``Session5``).
        dialogue_acts: optional EMOTyDA CSV file or a folder of ``iemocap_session*.csv``.

    Returns:
        The utterance table; every problem found is in ``table.attrs["problems"]``, errors
        included (rows with errors are left out).  :func:`sertext.data.load_corpus` decides
        whether errors stop the load.
    """
    root = Path(root).expanduser().resolve()
    sessions = sorted(p for p in root.glob("Session[1-5]") if p.is_dir())
    if not sessions:
        raise FileNotFoundError(f"No Session1..Session5 folders under {root}")
    reading = _Reading()
    for session_dir in sessions:
        _read_session(session_dir, reading)
    table = make_table(reading.rows, EXTRA_COLUMNS)
    if dialogue_acts is not None:
        table = _join_dialogue_acts(table, Path(dialogue_acts), reading)
    table.attrs["problems"] = Problems(reading.problems)
    return table


def _read_session(session_dir: Path, reading: _Reading) -> None:
    label_dir = session_dir / "dialog" / "EmoEvaluation"
    if not label_dir.is_dir():
        reading.error("missing_folder", label_dir, None, "EmoEvaluation folder is missing")
        return
    for label_file in sorted(label_dir.iterdir()):
        if not label_file.is_file() or label_file.name.startswith("."):
            continue  # Categorical/, Attribute/, Self-evaluation/ and macOS "._" files
        dialog = label_file.stem
        if label_file.suffix != ".txt" or not DIALOG_RE.match(dialog):
            reading.note("unexpected_file", label_file, None, "not a dialog label file; ignored")
            continue
        _read_dialog(session_dir, dialog, label_file, reading)


def _read_dialog(session_dir: Path, dialog: str, label_file: Path, reading: _Reading) -> None:
    blocks = _parse_emo_evaluation(label_file, dialog, reading)
    transcript_file = session_dir / "dialog" / "transcriptions" / f"{dialog}.txt"
    texts = _parse_transcription(transcript_file, set(blocks), reading)
    wav_dir = session_dir / "sentences" / "wav" / dialog
    wavs = _list_wavs(wav_dir)
    for utt_id, block in blocks.items():
        if not block["usable"]:
            continue  # its error is recorded; its rater lines and wav go with it
        where = f"{label_file}:{block['line']}"
        wav = wav_dir / f"{utt_id}.wav"
        if utt_id not in wavs:
            reading.error("missing_wav", wav, None, f"wav for {utt_id} (labelled at {where}) is missing")
            continue
        if utt_id in reading.origins:
            reading.error("duplicate_utt_id", label_file, block["line"],
                          f"utterance id {utt_id} already defined at {reading.origins[utt_id]}")
            continue
        reading.origins[utt_id] = where
        if utt_id not in texts:
            reading.note("missing_transcript", transcript_file, None,
                         f"no transcript line for {utt_id}; text set to ''")
        reading.rows.append(_row(utt_id, dialog, block, str(wav), texts.get(utt_id, "")))
    for stem in sorted(wavs - set(blocks)):
        reading.note("unlabelled_wav", wav_dir / f"{stem}.wav", None, "wav has no EmoEvaluation entry; ignored")


def _row(utt_id: str, dialog: str, block: dict, path: str, text: str) -> dict:
    match = UTT_ID_RE.match(utt_id)
    session, letter = int(match.group(1)), match.group(3)
    return {
        "utt_id": utt_id,
        "corpus": "iemocap",
        "path": path,
        "speaker": f"Ses{session:02d}{letter}",
        "session": session,
        "gender": letter,
        "text": text,
        "emotion": block["emotion"],
        "valence": block["vad"][0],
        "arousal": block["vad"][1],
        "dominance": block["vad"][2],
        "mode": "improvised" if "_impro" in dialog else "scripted",
        "split": None,
        "dialog": dialog,
        "start_s": block["start_s"],
        "end_s": block["end_s"],
        "rater_emotions": tuple(block["rater_emotions"]),
        "self_emotions": tuple(block["self_emotions"]),
        "rater_vad": tuple(block["rater_vad"]),
    }


def _parse_emo_evaluation(path: Path, dialog: str, reading: _Reading) -> dict:
    """Header and rater lines of one EmoEvaluation file, keyed by utterance id."""
    blocks: dict = {}
    current = None
    for number, line in enumerate(reading.read_lines(path), start=1):
        if not line.strip():
            current = None  # blocks are separated by blank lines
            continue
        if line.startswith("%"):
            continue  # the file's header comment
        if line.startswith("["):
            current = _parse_header(path, number, line, dialog, reading)
            if current is not None:
                if current["utt_id"] in blocks:
                    first = blocks[current["utt_id"]]["line"]
                    reading.error("duplicate_utt_id", path, number,
                                  f"utterance id {current['utt_id']} already defined at line {first}")
                    current = None
                else:
                    blocks[current["utt_id"]] = current
            continue
        rater = RATER_RE.match(line)
        if rater is None or current is None:
            reading.note("unrecognised_line", path, number, f"skipped line {line.strip()!r}")
            continue
        _add_rating(current, rater, path, number, reading)
    return blocks


def _parse_header(path: Path, number: int, line: str, dialog: str, reading: _Reading):
    match = HEADER_RE.match(line.rstrip("\r\n"))
    if match is None:
        reading.error("malformed_header", path, number,
                      f"header line does not match '[start - end]<TAB>utt<TAB>code<TAB>[V, A, D]': "
                      f"{line.strip()!r}")
        return None
    start, end, utt_id, emotion, *vad = match.groups()
    if not UTT_ID_RE.match(utt_id) or utt_id.rsplit("_", 1)[0] != dialog:
        reading.error("malformed_header", path, number,
                      f"utterance id {utt_id!r} is not of the form {dialog}_{{F|M}}NNN")
        return None
    vad = tuple(float(v) for v in vad)
    outside = out_of_range(dict(zip(("valence", "arousal", "dominance"), vad, strict=True)), *VAD_RANGE)
    if outside:
        reading.error("vad_out_of_range", path, number, f"{utt_id}: {outside} (means of 1–5 ratings)")
    elif emotion not in EMOTION_CODES:
        reading.note("unknown_emotion", path, number, f"{utt_id}: unknown emotion code {emotion!r} kept as data")
    return {
        "utt_id": utt_id, "line": number, "emotion": emotion, "usable": not outside,
        "start_s": float(start), "end_s": float(end), "vad": vad,
        "rater_emotions": [], "self_emotions": [], "rater_vad": [],
    }


def _add_rating(block: dict, rater: re.Match, path: Path, number: int, reading: _Reading) -> None:
    kind, rater_id, body = rater.group(1), rater.group(2), rater.group(3)
    external = rater_id.startswith("E")
    if kind == "C":
        categories = tuple(c.strip() for c in body.split(";") if c.strip())
        (block["rater_emotions"] if external else block["self_emotions"]).append(categories)
        return
    values = dict(ATTRIBUTE_RE.findall(body))
    if set(values) != {"val", "act", "dom"}:
        reading.note("malformed_rating", path, number, f"attribute line without val/act/dom: {body!r}")
        return
    if external:
        block["rater_vad"].append((float(values["val"]), float(values["act"]), float(values["dom"])))


def _parse_transcription(path: Path, labelled: set, reading: _Reading) -> dict:
    """Utterance id -> text for the labelled utterances of one transcription file."""
    if not path.is_file():
        reading.note("missing_transcript_file", path, None, "transcription file is missing")
        return {}
    texts: dict = {}
    for number, line in enumerate(reading.read_lines(path), start=1):
        if not line.strip():
            continue
        match = TRANSCRIPT_RE.match(line.rstrip("\r\n"))
        if match is None:
            reading.note("unmatched_transcript_line", path, number, f"skipped line {line.strip()!r}")
            continue
        utt_id, text = match.group(1), match.group(4).strip()
        if "XX" in utt_id.rsplit("_", 1)[1]:
            reading.note("xx_transcript_line", path, number, f"skipped {utt_id} (no wav, no label)")
        elif utt_id not in labelled:
            reading.note("unlabelled_transcript_line", path, number, f"skipped {utt_id} (no label)")
        elif utt_id in texts:
            reading.error("duplicate_transcript", path, number, f"second transcript line for {utt_id}")
        else:
            texts[utt_id] = text
            if not text:
                reading.note("empty_transcript", path, number, f"{utt_id} has no text; kept with ''")
    return texts


def _list_wavs(wav_dir: Path) -> set:
    if not wav_dir.is_dir():
        return set()
    return {
        entry.name[:-4]
        for entry in os.scandir(wav_dir)
        if entry.name.endswith(".wav") and not entry.name.startswith(".")
    }


def _join_dialogue_acts(table: pd.DataFrame, source: Path, reading: _Reading) -> pd.DataFrame:
    files = sorted(source.glob("iemocap_session*.csv")) if source.is_dir() else [source]
    if not files:
        raise FileNotFoundError(f"No EMOTyDA iemocap_session*.csv files in {source}")
    acts: dict = {}
    known = set(table["utt_id"])
    for path in files:
        _read_dialogue_acts(path, known, acts, reading)
    table["dialogue_act"] = table["utt_id"].map(acts).astype("string")
    for utt_id in table.loc[table["dialogue_act"].isna(), "utt_id"]:
        reading.note("no_dialogue_act", source, None, f"EMOTyDA has no row for {utt_id}")
    return table


def _read_dialogue_acts(path: Path, known: set, acts: dict, reading: _Reading) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"EMOTyDA file {path} does not exist")
    rows = csv.reader(reading.read_lines(path))  # one row per line; bytes that are not UTF-8 noted
    header = next(rows, None)
    if header is None or [h.strip() for h in header] != DIALOGUE_ACT_HEADER:
        raise CorpusError("EMOTyDA", str(path), [Problem(
            "malformed_header", "error", str(path), 1,
            f"expected header {','.join(DIALOGUE_ACT_HEADER)}, found {header}")])
    for row in rows:
        number = rows.line_num
        if len(row) != 4:
            reading.note("malformed_dialogue_act", path, number, f"expected 4 fields: {row}")
        elif row[0] not in known:
            reading.note("dialogue_act_without_utterance", path, number,
                         f"{row[0]} is not in the utterance table; skipped")
        elif row[0] in acts:
            reading.note("duplicate_dialogue_act", path, number, f"second row for {row[0]}; skipped")
        else:
            acts[row[0]] = row[2].strip()
