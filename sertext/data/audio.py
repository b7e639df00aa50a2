"""Reading utterance audio with clear errors.

Audio is read with ``soundfile`` (torchaudio ≥ 2.9 would need torchcodec).  Every failure names
the file, so a broken wav deep inside a sweep reports itself instead of a bare traceback.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE_HZ = 16_000
# The largest positive 16-bit sample (32767/32768); 24-bit and float files reach it too, 8-bit ones do not.
FULL_SCALE = 1 - 2**-15
# Three consecutive full-scale samples make a clipped run, as in Audacity's "Find Clipping"; a
# file is noted when such runs cover 0.1 % of it (a few isolated clicks are not worth a note).
CLIP_RUN_SAMPLES = 3
CLIP_NOTE_FRACTION = 0.001


class AudioError(OSError):
    """A wav file could not be used; the message names the file and the reason."""


def read_wav(path, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Read a wav as mono float32 in [-1, 1] at ``sample_rate_hz``.

    Stereo files are averaged to mono and other sample rates resampled (polyphase), the
    documented handling for these corpus quirks.

    Raises:
        AudioError: if the file is missing, unreadable, empty, or holds non-finite samples.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AudioError(f"cannot read wav {path}: {exc}") from exc
    return decode_wav(data, path, sample_rate_hz=sample_rate_hz)


def decode_wav(data: bytes, path, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """:func:`read_wav` for a wav already read into memory (``path`` names it in errors)."""
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"cannot read wav {path}: {_reason(exc)}") from exc
    if samples.shape[0] == 0:
        raise AudioError(f"wav {path} has no samples")
    mono = samples.mean(axis=1)
    if not np.isfinite(mono).all():
        raise AudioError(f"wav {path} contains NaN or infinite samples")
    if rate != sample_rate_hz:
        divisor = np.gcd(rate, sample_rate_hz)
        from scipy.signal import resample_poly  # imported here: scipy.signal costs seconds at start-up

        mono = resample_poly(mono, sample_rate_hz // divisor, rate // divisor).astype(np.float32)
    return mono


def wav_problems(path, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> list[tuple[str, str, str]]:
    """Everything ``sertext check-corpus`` reports about one wav.

    The samples are decoded, not just the header, because NaN samples and clipping only show
    there.

    Returns:
        ``(severity, kind, detail)`` per problem, empty when the file is fine: an error for an
        unreadable or empty file or non-finite samples (:func:`read_wav` refuses these), a note
        for a sample rate or channel count that :func:`read_wav` converts, and a note for clipped
        audio (kept: clipping lowers quality but the utterance is still usable).
    """
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        return [("error", "unreadable_wav", f"cannot read wav: {_reason(exc)}")]
    if samples.shape[0] == 0:
        return [("error", "empty_wav", "wav has no samples")]
    if not np.isfinite(samples).all():
        return [("error", "nan_audio", "wav contains NaN or infinite samples")]
    found = []
    if rate != sample_rate_hz:
        found.append(("note", "sample_rate", f"{rate} Hz, resampled to {sample_rate_hz} Hz on read"))
    if samples.shape[1] != 1:
        found.append(("note", "channels", f"{samples.shape[1]} channels, averaged to mono on read"))
    clipped = clipped_samples(samples)
    if clipped >= CLIP_NOTE_FRACTION * samples.size:
        found.append(("note", "clipped_audio", f"{clipped} of {samples.size} samples ({clipped / samples.size:.2%}) "
                                               f"in runs of {CLIP_RUN_SAMPLES}+ at full scale; kept"))
    return found


def _reason(exc: Exception) -> str:
    """Why libsndfile refused a file, without its repr of the buffer it was given."""
    return str(getattr(exc, "error_string", exc))


def clipped_samples(samples: np.ndarray, *, run_samples: int = CLIP_RUN_SAMPLES) -> int:
    """The number of samples in runs of at least ``run_samples`` consecutive full-scale samples.

    A run of full-scale samples is the flat top that clipping leaves; a lone peak at full scale is
    not clipping.  Counted per channel of a ``(frames, channels)`` array.

    Examples:
        >>> clipped_samples(np.array([[0.2], [1.0], [1.0], [1.0], [0.3], [-1.0]], dtype=np.float32))
        3
    """
    total = 0
    for channel in (np.abs(samples) >= FULL_SCALE).T:
        edges = np.diff(np.concatenate(([0], channel.astype(np.int8), [0])))
        lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        total += int(lengths[lengths >= run_samples].sum())
    return total
