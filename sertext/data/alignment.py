"""IEMOCAP ``ForcedAlignment`` files: word (``.wdseg``) and phone (``.phseg``) segmentations.

The files are Sphinx-3 alignments of the transcript at 10 ms frames: a header line
(``SFrm EFrm SegAScr Word`` or ``… Phone``), one segment per line with inclusive start and end
frames, an acoustic score and the label, and a closing ``Total score:`` line.  Words include the
sentence markers ``<s>``, ``</s>``, silences ``<sil>`` and fillers such as ``++LAUGHTER++``;
phones look like ``DH(SIL,AH) b`` (phone, left and right context, word position ``b``egin,
``i``nternal, ``e``nd or ``s``ingle) or ``SIL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FRAME_S = 0.01  # Sphinx frames are 10 ms
SEGMENT_SUFFIXES = ("wdseg", "phseg")


@dataclass(frozen=True)
class AlignedSegment:
    """One aligned word or phone: its label and its time span in seconds (end exclusive)."""

    label: str
    start_s: float
    end_s: float


class AlignmentError(ValueError):
    """A ForcedAlignment file that cannot be read; the message names the file and line."""


def alignment_path(wav_path, suffix: str) -> Path:
    """The ``ForcedAlignment`` file of an utterance's wav (``suffix`` ``wdseg`` or ``phseg``):
    ``…/sentences/wav/<dialog>/<utt>.wav`` → ``…/sentences/ForcedAlignment/<dialog>/<utt>.<suffix>``."""
    if suffix not in SEGMENT_SUFFIXES:
        raise ValueError(f"suffix must be one of {SEGMENT_SUFFIXES}, got {suffix!r}")
    wav = Path(wav_path)
    return wav.parent.parent.parent / "ForcedAlignment" / wav.parent.name / f"{wav.stem}.{suffix}"


def parse_segments(text: str, source: str = "<text>") -> list[AlignedSegment]:
    """The segments of one ``.wdseg`` / ``.phseg`` file's text, in file order.

    Raises:
        AlignmentError: a line that is neither the header, a segment nor the total score
            (``source`` and the line number are named).
    """
    segments = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0] == "SFrm" or line.strip().startswith("Total score"):
            continue
        try:
            start, end, _score = int(fields[0]), int(fields[1]), int(fields[2])
            label = " ".join(fields[3:])
        except (ValueError, IndexError):
            raise AlignmentError(f"{source}, line {number}: expected 'SFrm EFrm SegAScr label', got {line!r}") from None
        if not label or end < start:
            raise AlignmentError(f"{source}, line {number}: bad segment {line!r}")
        segments.append(AlignedSegment(label, start * FRAME_S, (end + 1) * FRAME_S))
    return segments


def read_segments(path) -> list[AlignedSegment]:
    """The segments of one ``.wdseg`` / ``.phseg`` file (see :func:`parse_segments`)."""
    path = Path(path)
    return parse_segments(path.read_text(encoding="utf-8", errors="replace"), str(path))
