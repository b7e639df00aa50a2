"""Model registry: ``build(name, n_outputs=…, width=…, text_dim=…)`` returns an ``nn.Module``.

Each architecture declares its inputs: the keyword the model's ``forward`` takes and the cached
feature that feeds it (``log_mel``, ``text_embedding``, ``tokens``, ``wav2vec``, …; see
:func:`sertext.trial.feature_extractors`), so the trainer knows which features to prepare and how to
batch them.  Options an architecture has no use for (``width`` for the text model, ``text_dim``
for CNN14) are ignored, so one sweep can pass the same settings to every architecture.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from torch import nn

from .atmaja import AtmajaModel
from .cnn14 import CNN14
from .makiuchi import CrossRepresentationModel, TextCNN
from .mfcnn14 import MFCNN14
from .sfcnn14 import SFCNN14
from .text import TextClassifier
from .tzirakis import TzirakisModel


@dataclass(frozen=True)
class Architecture:
    """How the trainer builds, feeds and trains one model family.

    Attributes:
        builder: the model class, called as ``builder(n_outputs, **options)``.
        inputs: ``{forward keyword: feature kind}``.
        options: keyword arguments the builder accepts.
        infer: ``{option: (input, function of the first training example)}``: sizes read off the
            features (e.g. the text embedding's width).
        lengths: inputs of variable length, batched zero-padded with a ``<input>_lengths`` tensor.
        time_axis: ``{input: time axis}`` of the time-aligned inputs that ``"segment"`` crops cut together
            (wav2vec states are layers × time × dim: axis 1).
        crop: training crops: ``"seconds"`` (the log-Mel, ``train.crop_s``), ``"segment"`` (every
            time-aligned input cut at the same random start to the model's ``segment_frames``) or
            ``None`` (whole utterances).
    """

    builder: type
    inputs: dict
    options: tuple
    infer: dict = field(default_factory=dict)
    lengths: tuple = ()
    time_axis: dict = field(default_factory=dict)
    crop: str | None = None


def _last_dim(array) -> int:
    return int(array.shape[-1])


_TEXT_DIM = {"text_dim": ("text", _last_dim)}
ARCHITECTURES = {
    "cnn14": Architecture(CNN14, {"log_mel": "log_mel"}, ("width", "dropout", "pretrained"), crop="seconds"),
    "sfcnn14": Architecture(SFCNN14, {"log_mel": "log_mel", "text": "text_embedding"},
                            ("width", "dropout", "pretrained", "text_dim"), _TEXT_DIM, crop="seconds"),
    "mfcnn14": Architecture(MFCNN14, {"log_mel": "log_mel", "text": "text_embedding"},
                            ("width", "dropout", "pretrained", "text_dim"), _TEXT_DIM, crop="seconds"),
    "text": Architecture(TextClassifier, {"tokens": "tokens"}, ("text_model", "max_tokens")),
    # Makiuchi et al.: wav2vec 2.0 layers (or the mel, for the ablation) → bottleneck codes → mel reconstruction
    "crossrep": Architecture(
        CrossRepresentationModel, {"wav2vec": "wav2vec", "speaker": "speaker", "phones": "phones",
                                   "mel_target": "autovc_mel"},
        ("bottleneck", "downsample", "width", "n_layers", "feature_dim"),
        {"n_layers": ("wav2vec", lambda a: int(a.shape[0])), "feature_dim": ("wav2vec", _last_dim)},
        lengths=("wav2vec",), time_axis={"wav2vec": 1, "phones": 0, "mel_target": 0}, crop="segment"),
    "crossrep-mel": Architecture(
        functools.partial(CrossRepresentationModel, input="mel"),
        {"mel": "autovc_mel", "speaker": "speaker", "phones": "phones"}, ("bottleneck", "downsample", "width"),
        lengths=("mel",), time_axis={"mel": 0, "phones": 0}, crop="segment"),
    "textcnn": Architecture(TextCNN, {"text_states": "token_states"}, ("feature_dim", "max_tokens"),
                            {"feature_dim": ("text_states", _last_dim),
                             "max_tokens": ("text_states", lambda a: int(a.shape[0]))}),
    # Atmaja & Akagi: utterance acoustic statistics + word vectors, LSTM branches, concatenation
    "lstmfusion": Architecture(AtmajaModel, {"acoustic": "acoustic_stats", "words": "word_sequence"},
                               ("acoustic_dim", "word_dim", "text", "acoustic"),
                               {"acoustic_dim": ("acoustic", _last_dim), "word_dim": ("words", _last_dim)},
                               lengths=("words",)),
    # Tzirakis et al.: raw-waveform CNN + frame-aligned word vectors, attention or concatenation fusion, LSTM
    "wavfusion": Architecture(TzirakisModel, {"waveform": "waveform_frames", "words": "aligned_words"},
                              ("fusion", "frame_samples", "word_dim", "output_range", "width"),
                              {"frame_samples": ("waveform", _last_dim), "word_dim": ("words", _last_dim)},
                              lengths=("waveform", "words")),
}


def build(name: str, *, n_outputs: int, **options) -> nn.Module:
    """Build architecture ``name`` with ``n_outputs`` outputs.

    Raises:
        ValueError: for an unknown architecture, or a needed option that is missing.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; expected one of {sorted(ARCHITECTURES)}")
    architecture = ARCHITECTURES[name]
    used = {k: v for k, v in options.items() if k in architecture.options}
    missing = sorted(k for k in architecture.infer if used.get(k) is None)
    if missing:
        raise ValueError(f"{name} needs {', '.join(missing)} (read off its input features)")
    return architecture.builder(n_outputs, **used)
