"""Reading utterance audio with clear errors.

Audio is read with ``soundfile`` (torchaudio ≥ 2.9 would need torchcodec).  Every failure names
the file, so a broken wav deep inside a sweep reports itself instead of a bare traceback.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE_HZ = 16_000


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
        raise AudioError(f"cannot read wav {path}: {exc}") from exc
    if samples.shape[0] == 0:
        raise AudioError(f"wav {path} has no samples")
    mono = samples.mean(axis=1)
    if not np.isfinite(mono).all():
        raise AudioError(f"wav {path} contains NaN or infinite samples")
    if rate != sample_rate_hz:
        divisor = np.gcd(rate, sample_rate_hz)
        mono = resample_poly(mono, sample_rate_hz // divisor, rate // divisor).astype(np.float32)
    return mono


def wav_problem(path, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> tuple[str, str, str] | None:
    """Check a wav's header without decoding it.

    Returns:
        ``None`` when the file is fine, else ``(severity, kind, detail)``: an error for an
        unreadable or empty file, a note for a sample rate or channel count that
        :func:`read_wav` converts.
    """
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        return "error", "unreadable_wav", f"cannot read wav: {exc}"
    if info.frames == 0:
        return "error", "empty_wav", "wav has no samples"
    if info.samplerate != sample_rate_hz:
        return "note", "sample_rate", f"{info.samplerate} Hz, resampled to {sample_rate_hz} Hz on read"
    if info.channels != 1:
        return "note", "channels", f"{info.channels} channels, averaged to mono on read"
    return None
