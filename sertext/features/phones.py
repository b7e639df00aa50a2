"""Frame-level phone ids at 20 ms from IEMOCAP's ``.phseg`` alignments (Makiuchi et al.'s phone input).

Ids (128, as in the paper): 0 silence, 1 unknown, 2–5 the non-verbal tokens LAUGHTER, BREATHING,
GARBAGE, LIPSMACK, 6–127 position-dependent phones.

**Inventory: differs from the public code.**  The paper's ids 6–127 are the 122 position-dependent
Gentle phones in the order its aligner first met them (``aligner/phone_dict.csv``, with ``oov_S`` and
without e.g. ``oy_S``).  sertext reads IEMOCAP's own Sphinx alignments instead, whose labels look like
``DH(SIL,AH) b`` (ARPAbet phone, context, word position ``b``egin / ``i``nternal / ``e``nd /
``s``ingle) or ``SIL``.  39 ARPAbet phones × 4 positions would need 156 ids, so the mapping is fixed
and documented: ``6 + 3·phone + position`` with phones in alphabetical order (:data:`ARPABET`) and
positions B, I, E, where a single-phone word counts as B; that uses ids 6–122 and leaves 123–127
unused.  Stress digits are ignored and ``AX``/``IX``/``AXR`` are read as ``AH``/``IH``/``ER``.
Fillers (``+BREATH+``, ``++LAUGHTER++`` …) map to the non-verbal ids; any other label (another
filler, an unknown phone) becomes 1 and is reported in a warning naming the file.

**Frames** (the paper's rule): frame ``k`` spans ``[20k, 20k + 20)`` ms and gets the phone that
covers at least half of it, else the phone with the longest partial cover (ties: the earlier one):
both are the largest overlap.  Frames count from time 0 as in the public code (the mel frame ``k``
is centred on ``20k`` ms instead).  Frames no segment reaches are silence.  The frame count is that of
the AutoVC mel, ``n_samples // 320 + 1``, computed from the wav's length, so the ids line up with
the mel and wav2vec 2.0 frames without loading them.  Phones shorter than a tenth of a frame, which
the public code drops, cannot occur: Sphinx segments are at least 10 ms.

**Special cases**: a transcript made only of a token (``[LAUGHTER]``) gives a constant sequence of
that token's id, as in the public code (unknown tags give 1).  A missing ``.phseg`` (IEMOCAP has
known gaps) gives an all-unknown sequence, with a :class:`MissingAlignmentWarning` naming the file
each time the table is extracted; :func:`missing_phone_alignments` counts them.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from sertext.data.alignment import alignment_path, parse_segments
from sertext.data.audio import AudioError

from .autovc_mel import AutoVCMelConfig, autovc_frame_count

SILENCE, UNKNOWN = 0, 1
NON_VERBAL = {"LAUGHTER": 2, "BREATHING": 3, "GARBAGE": 4, "LIPSMACK": 5}
#: The 39 CMU ARPAbet phones, in id order.
ARPABET = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH",
           "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V",
           "W", "Y", "Z", "ZH")
FIRST_PHONE_ID = 6
N_PHONE_IDS = 128
#: Sphinx word position → B (0), I (1), E (2); a single-phone word counts as B.
_POSITIONS = {"b": 0, "s": 0, "i": 1, "e": 2}
_PHONE_ALIASES = {"AX": "AH", "IX": "IH", "AXR": "ER"}
_FILLER_ALIASES = {"LAUGH": "LAUGHTER", "BREATH": "BREATHING", "SMACK": "LIPSMACK"}
_TOKEN_ONLY = re.compile(r"^\s*\[([A-Za-z]+)\]\s*$")
_MISSING = b"missing"


class MissingAlignmentWarning(UserWarning):
    """An utterance has no ``.phseg`` file; its phones are all unknown."""


def phone_id(label: str) -> int | None:
    """The id of one ``.phseg`` label, or ``None`` when the label is not recognised.

    Examples:
        >>> phone_id("SIL"), phone_id("AA(SIL,B) b"), phone_id("AA(B,SIL) s"), phone_id("ZH(AH,SIL) e")
        (0, 6, 6, 122)
        >>> phone_id("++LAUGHTER++"), phone_id("+BREATH+(SIL,AH) s"), phone_id("Q(A,B) b")
        (2, 3, None)
    """
    fields = label.split()
    base = fields[0].split("(")[0].upper()
    if base == "SIL":
        return SILENCE
    if base.startswith("+"):
        name = base.strip("+")
        return NON_VERBAL.get(_FILLER_ALIASES.get(name, name))
    base = _PHONE_ALIASES.get(base.rstrip("012"), base.rstrip("012"))
    if base not in ARPABET:
        return None
    position = _POSITIONS.get(fields[-1].lower(), 0) if len(fields) > 1 else 0
    return FIRST_PHONE_ID + 3 * ARPABET.index(base) + position


def frame_phones(ids, starts_s, ends_s, n_frames: int, *, frame_s: float = 0.02) -> np.ndarray:
    """Per-frame ids: each frame takes the segment that overlaps it most (the earlier one on ties).

    Args:
        ids, starts_s, ends_s: one entry per segment, in time order (end exclusive).
        n_frames: the length of the result; frames no segment reaches are silence.

    Examples:
        >>> frame_phones([7, 8, 9], [0.0, 0.01, 0.03], [0.01, 0.03, 0.09], 5).tolist()
        [7, 8, 9, 9, 9]
    """
    micro = 1_000_000  # integer microseconds: exact ties between 10 ms segments and 20 ms frames
    starts = np.round(np.asarray(starts_s, dtype=np.float64) * micro).astype(np.int64)
    ends = np.round(np.asarray(ends_s, dtype=np.float64) * micro).astype(np.int64)
    frame_starts = np.arange(n_frames, dtype=np.int64)[:, None] * round(frame_s * micro)
    frame_ends = frame_starts + round(frame_s * micro)
    overlap = np.clip(np.minimum(frame_ends, ends[None]) - np.maximum(frame_starts, starts[None]), 0, None)
    if overlap.shape[1] == 0:
        return np.full(n_frames, SILENCE, dtype=np.int64)
    best = overlap.argmax(axis=1)
    return np.where(overlap[np.arange(n_frames), best] > 0, np.asarray(ids, dtype=np.int64)[best], SILENCE)


def token_only_id(text: str) -> int | None:
    """The id of a transcript made only of a token such as ``[LAUGHTER]`` (unknown tags: 1), else None.

    Examples:
        >>> token_only_id("[BREATHING]"), token_only_id(" [garbage] "), token_only_id("[COUGH]")
        (3, 4, 1)
        >>> token_only_id("[LAUGHTER] No.") is None
        True
    """
    match = _TOKEN_ONLY.match(str(text))
    return None if match is None else NON_VERBAL.get(match.group(1).upper(), UNKNOWN)


def missing_phone_alignments(table) -> list[str]:
    """The ``utt_id`` of every row whose phones need a ``.phseg`` that does not exist."""
    return [row.utt_id for row in table.itertuples(index=False)
            if token_only_id(row.text) is None and not alignment_path(row.path, "phseg").is_file()]


@dataclass(frozen=True)
class PhoneExtractor:
    """Phone ids ``(frames,)`` int64 at 20 ms, as many as the AutoVC mel frames (module docstring)."""

    name: str = "phones"
    batch_size: int = 64

    def settings(self) -> dict:
        return {"inventory": "arpabet39-BIE", "n_ids": N_PHONE_IDS, "frame_s": 0.02, "frames": "autovc-hop320"}

    def content(self, row) -> bytes:
        """The wav's length, a token-only transcript's token, and the ``.phseg`` bytes."""
        token = token_only_id(row.text)
        header = json.dumps({"samples": _decoded_length(row.path), "token": token}).encode() + b"\n"
        if token is not None:
            return header
        phseg = alignment_path(row.path, "phseg")
        if not phseg.is_file():
            warnings.warn(f"{row.utt_id}: no phone alignment {phseg}; its phones are all unknown (id {UNKNOWN})",
                          MissingAlignmentWarning, stacklevel=2)
            return header + _MISSING
        return header + phseg.read_bytes()

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        return [self._phones(row, data) for row, data in zip(rows, contents, strict=True)]

    def _phones(self, row, data: bytes) -> np.ndarray:
        header, _, body = data.partition(b"\n")
        described = json.loads(header)
        n_frames = autovc_frame_count(described["samples"], AutoVCMelConfig())
        if described["token"] is not None:
            return np.full(n_frames, described["token"], dtype=np.int64)
        if body == _MISSING:
            return np.full(n_frames, UNKNOWN, dtype=np.int64)
        source = alignment_path(row.path, "phseg")
        segments = parse_segments(body.decode("utf-8", errors="replace"), str(source))
        ids = [phone_id(s.label) for s in segments]
        unknown = sorted({s.label for s, i in zip(segments, ids, strict=True) if i is None})
        if unknown:
            warnings.warn(f"{source}: labels not in the phone inventory, read as unknown (id {UNKNOWN}): {unknown}",
                          stacklevel=2)
        ids = [UNKNOWN if i is None else i for i in ids]
        return frame_phones(ids, [s.start_s for s in segments], [s.end_s for s in segments], n_frames)


def _decoded_length(path) -> int:
    """Samples of the wav once read at 16 kHz (``decode_wav`` resamples other rates), from its header."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"cannot read wav {path}: {exc}") from exc
    rate = AutoVCMelConfig().sample_rate_hz
    return -(-info.frames * rate // info.samplerate)  # resample_poly's length: the ceiling
