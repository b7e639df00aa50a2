"""Frozen wav2vec 2.0 hidden states, frame-aligned with the AutoVC mel (Makiuchi et al.).

Every hidden state of a Hugging Face ``Wav2Vec2Model`` (the projected CNN features plus one per
transformer layer: 25 for ``facebook/wav2vec2-large-lv60``) is kept, stacked as
``(n_layers + 1, frames, hidden)``; the speech model learns its own average of the layers.

Frame alignment (the public code's ``extract_wav2vec.py``): the waveform is zero-padded by 160
samples on each side, or by 319 when ``len % 320 < 80``, so that the CNN (receptive field 400,
stride 320) gives exactly :func:`~sertext.features.autovc_mel.autovc_frame_count` frames.  This is
checked for every utterance, as the original asserts it.  The padded waveform is then normalised to
zero mean and unit variance, as the Hugging Face feature extractor does, when the model's
``preprocessor_config.json`` says ``do_normalize`` (the extractor's default when there is none).

Each utterance runs alone through the model (the original used batches of one), so a feature never
depends on which utterances shared its batch.  Features are stored as float16 by default: at
1024 × 25 values per 20 ms frame, IEMOCAP's ~12 h take ~110 GB in float16 and twice that in float32;
hidden-state magnitudes stay far below float16's range (a non-finite value raises).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sertext.data.audio import decode_wav

from .autovc_mel import AutoVCMelConfig, autovc_frame_count

SAMPLE_RATE_HZ = 16_000
HOP_SAMPLES = 320  # the wav2vec 2.0 CNN stride, equal to the AutoVC mel hop
RECEPTIVE_FIELD_SAMPLES = 400  # one CNN frame sees 400 samples: 25 ms, the mel window


def wav2vec_padding(n_samples: int) -> int:
    """Zeros added on each side of a clip of ``n_samples`` so that the wav2vec 2.0 frames equal the
    AutoVC mel frames.

    Examples:
        >>> wav2vec_padding(16_000), wav2vec_padding(16_079), wav2vec_padding(16_080)
        (319, 319, 160)
    """
    return 160 if n_samples % HOP_SAMPLES >= 80 else 319


def conv_geometry(config) -> tuple[int, int]:
    """``(stride, receptive field)`` in samples of a ``Wav2Vec2Config``'s feature encoder."""
    stride, field = 1, 1
    for kernel, step in zip(config.conv_kernel, config.conv_stride, strict=True):
        field += (kernel - 1) * stride
        stride *= step
    return stride, field


def normalize_waveform(audio: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance, exactly as ``Wav2Vec2FeatureExtractor`` (``do_normalize``)."""
    audio = audio.astype(np.float32)
    return (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)


@dataclass(frozen=True)
class Wav2Vec2Extractor:
    """All wav2vec 2.0 hidden states ``(n_layers + 1, frames, hidden)`` of the utterance's wav.

    Args:
        model: a Hugging Face model name (from the local cache: nothing is downloaded) or folder.
        dtype: ``"float16"`` (default, half the disk) or ``"float32"``.
        device: where the model runs (default: CUDA when available); not part of the cache key.
    """

    model: str
    dtype: str = "float16"
    device: str | None = None
    name: str = "wav2vec2"
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.dtype not in ("float16", "float32"):
            raise ValueError(f"dtype must be 'float16' or 'float32', got {self.dtype!r}")

    def settings(self) -> dict:
        source, config_sha256, normalize = _model_identity(self.model)
        return {"model": source, "config_sha256": config_sha256, "normalize": normalize, "dtype": self.dtype,
                "padding": "autovc-hop320"}

    def content(self, row) -> bytes:
        return Path(row.path).read_bytes()

    @torch.no_grad()
    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = _wav2vec_model(self.model, device)
        normalize = _model_identity(self.model)[2]
        return [self._states(model, decode_wav(data, row.path, sample_rate_hz=SAMPLE_RATE_HZ), normalize, device,
                             row.path)
                for row, data in zip(rows, contents, strict=True)]

    def _states(self, model, audio: np.ndarray, normalize: bool, device: str, path) -> np.ndarray:
        padded = np.pad(audio, wav2vec_padding(len(audio)))
        values = normalize_waveform(padded) if normalize else padded.astype(np.float32)
        output = model(torch.from_numpy(values)[None].to(device), output_hidden_states=True)
        states = torch.cat(output.hidden_states, dim=0).float().cpu().numpy()  # (layers + 1, T, hidden)
        assert states.shape[1] == autovc_frame_count(len(audio), AutoVCMelConfig()), (path, states.shape)
        stored = states.astype(self.dtype)
        if not np.isfinite(stored).all():
            raise ValueError(f"wav2vec 2.0 states of {path} overflow {self.dtype}; use dtype='float32'")
        return stored


@functools.cache
def _model_identity(model: str) -> tuple[str, str, bool]:
    """``(name or absolute folder, SHA-256 of the config, do_normalize)`` for the cache key.

    Raises:
        OSError: the model's config cannot be found (named); nothing is downloaded.
        ValueError: the model's CNN does not have the stride 320 / receptive field 400 that the
            frame alignment with the AutoVC mel relies on.
    """
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    path = Path(model).expanduser()
    source = str(path.resolve()) if path.is_dir() else model
    try:
        config = Wav2Vec2Config.from_pretrained(source)
    except OSError as exc:
        raise OSError(f"cannot load wav2vec 2.0 config of {model!r}: {exc}. Give a local model folder or a "
                      f"name already in the Hugging Face cache.") from exc
    if conv_geometry(config) != (HOP_SAMPLES, RECEPTIVE_FIELD_SAMPLES):
        raise ValueError(f"{model!r}: feature encoder (stride, receptive field) = {conv_geometry(config)} samples; "
                         f"frame alignment with the AutoVC mel needs ({HOP_SAMPLES}, {RECEPTIVE_FIELD_SAMPLES})")
    described = {k: v for k, v in config.to_dict().items() if k not in ("transformers_version", "_name_or_path")}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()
    try:
        normalize = bool(Wav2Vec2FeatureExtractor.from_pretrained(source).do_normalize)
    except OSError:  # no preprocessor_config.json: the feature extractor's default
        normalize = True
    return source, digest, normalize


@functools.cache
def _wav2vec_model(model: str, device: str):
    from transformers import Wav2Vec2Model

    source = _model_identity(model)[0]
    return Wav2Vec2Model.from_pretrained(source).eval().requires_grad_(False).to(device)
