"""The architecture registry: each model family declared once, beside the model files.

An :class:`Architecture` says everything the rest of sertext needs to know of a family: the model
class, the inputs its ``forward`` takes and the cached feature behind each (see
:func:`sertext.features.extractors.feature_extractors`), how the trainer batches and crops them, its paper's
training settings and optimiser, and its display name in reports.  Light to import (no torch):
configs, sweep definitions and reports read it; the model class is imported when a model is built.

Adding an architecture: its model file in this folder and one entry in :data:`ARCHITECTURES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Training:
    """The paper's training of a family: what ``None`` fields of the trial's TrainConfig become.
    Iteration budgets are converted to epochs over IEMOCAP's ~4,400 training utterances per fold."""

    optimizer: str  # "sgd" (Nesterov), "adamw" (linear warm-up schedule), "adam" or "rmsprop"
    epochs: int
    batch_size: int
    lr: float
    betas: tuple = (0.9, 0.999)  # Adam's


@dataclass(frozen=True)
class Architecture:
    """How the trainer builds, feeds and trains one model family.

    Attributes:
        model: ``"module:Class"`` in :mod:`sertext.models`, called as ``Class(n_outputs, **options)``.
        inputs: ``{forward keyword: feature kind}``.
        options: keyword arguments the model accepts (others are ignored, so one sweep can pass the
            same settings to every architecture).
        training: the paper's optimiser and budget.
        display: the name reports give it.
        fixed_options: keyword arguments this entry always passes (e.g. a family's ablation).
        infer: ``{option: (input, function of the first training example)}``: sizes read off the
            features (e.g. the text embedding's width).
        lengths: inputs of variable length, batched zero-padded with a ``<input>_lengths`` tensor.
        time_axis: ``{input: time axis}`` of the time-aligned inputs that ``"segment"`` crops cut
            together (wav2vec states are layers × time × dim: axis 1).
        crop: training crops: ``"seconds"`` (the log-Mel, ``train.crop_s``), ``"segment"`` (every
            time-aligned input cut at the same random start to the model's ``segment_frames``) or
            ``None`` (whole utterances).
    """

    model: str
    inputs: dict
    options: tuple
    training: Training
    display: str
    fixed_options: dict = field(default_factory=dict)
    infer: dict = field(default_factory=dict)
    lengths: tuple = ()
    time_axis: dict = field(default_factory=dict)
    crop: str | None = None

    def model_class(self) -> type:
        module, _, name = self.model.partition(":")
        return getattr(importlib.import_module(f"sertext.models.{module}"), name)


def _last_dim(array) -> int:
    return int(array.shape[-1])


_TEXT_DIM = {"text_dim": ("text", _last_dim)}
# Triantafyllopoulos et al. (multistage conditioning): SGD, Nesterov 0.9, lr 0.01, batch 64, 60 epochs
_CNN14_TRAINING = Training("sgd", epochs=60, batch_size=64, lr=0.01)
# Makiuchi et al.: Adam 1e-4, batch 2 for 1,000,000 iterations
_CROSSREP_TRAINING = Training("adam", epochs=450, batch_size=2, lr=1e-4)

ARCHITECTURES = {
    "cnn14": Architecture("cnn14:CNN14", {"log_mel": "log_mel"}, ("width", "dropout", "pretrained"),
                          _CNN14_TRAINING, "CNN14", crop="seconds"),
    "text": Architecture("text:TextClassifier", {"tokens": "tokens"}, ("text_model", "max_tokens"),
                         Training("adamw", epochs=4, batch_size=32, lr=2e-5), "Text"),
    "sfcnn14": Architecture("sfcnn14:SFCNN14", {"log_mel": "log_mel", "text": "text_embedding"},
                            ("width", "dropout", "pretrained", "text_dim"), _CNN14_TRAINING, "SFCNN14",
                            infer=_TEXT_DIM, crop="seconds"),
    "mfcnn14": Architecture("mfcnn14:MFCNN14", {"log_mel": "log_mel", "text": "text_embedding"},
                            ("width", "dropout", "pretrained", "text_dim"), _CNN14_TRAINING, "MFCNN14",
                            infer=_TEXT_DIM, crop="seconds"),
    # Makiuchi et al.: wav2vec 2.0 layers (or the mel, for the ablation) → bottleneck codes → mel reconstruction
    "crossrep": Architecture(
        "makiuchi:CrossRepresentationModel",
        {"wav2vec": "wav2vec", "speaker": "speaker", "phones": "phones", "mel_target": "autovc_mel"},
        ("bottleneck", "downsample", "width", "n_layers", "feature_dim"), _CROSSREP_TRAINING,
        "Cross-representation (speech)",
        infer={"n_layers": ("wav2vec", lambda a: int(a.shape[0])), "feature_dim": ("wav2vec", _last_dim)},
        lengths=("wav2vec",), time_axis={"wav2vec": 1, "phones": 0, "mel_target": 0}, crop="segment"),
    "crossrep-mel": Architecture(
        "makiuchi:CrossRepresentationModel", {"mel": "autovc_mel", "speaker": "speaker", "phones": "phones"},
        ("bottleneck", "downsample", "width"), _CROSSREP_TRAINING, "Cross-representation (mel input)",
        fixed_options={"input": "mel"}, lengths=("mel",), time_axis={"mel": 0, "phones": 0}, crop="segment"),
    # Makiuchi et al.'s text CNN: Adam 1e-4, batch 4 for 412,800 iterations
    "textcnn": Architecture("makiuchi:TextCNN", {"text_states": "token_states"}, ("feature_dim", "max_tokens"),
                            Training("adam", epochs=375, batch_size=4, lr=1e-4), "Text CNN",
                            infer={"feature_dim": ("text_states", _last_dim),
                                   "max_tokens": ("text_states", lambda a: int(a.shape[0]))}),
    # Atmaja & Akagi: utterance acoustic statistics + word vectors, LSTM branches, concatenation;
    # RMSprop (Keras defaults) lr 1e-3, batch 256, up to 50 epochs
    "lstmfusion": Architecture("atmaja:AtmajaModel", {"acoustic": "acoustic_stats", "words": "word_sequence"},
                               ("acoustic_dim", "word_dim", "text", "acoustic"),
                               Training("rmsprop", epochs=50, batch_size=256, lr=1e-3), "LSTM fusion",
                               infer={"acoustic_dim": ("acoustic", _last_dim), "word_dim": ("words", _last_dim)},
                               lengths=("words",)),
    # Tzirakis et al.: raw-waveform CNN + frame-aligned word vectors, attention or concatenation fusion,
    # LSTM; Adam 5e-4 with beta2 0.99, batch 5, no step limit in the code: 50 epochs here
    "wavfusion": Architecture("tzirakis:TzirakisModel", {"waveform": "waveform_frames", "words": "aligned_words"},
                              ("fusion", "frame_samples", "word_dim", "output_range", "width"),
                              Training("adam", epochs=50, batch_size=5, lr=5e-4, betas=(0.9, 0.99)),
                              "Waveform + words",
                              infer={"frame_samples": ("waveform", _last_dim), "word_dim": ("words", _last_dim)},
                              lengths=("waveform", "words")),
}


def display_name(arch: str) -> str:
    """How reports name an architecture (or a fusion row, or anything else, as it is)."""
    return ARCHITECTURES[arch].display if arch in ARCHITECTURES else arch
