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

SELECTIONS = ("dev", "last")  # the model a trial evaluates: the best dev epoch's, or the last one


@dataclass(frozen=True)
class Training:
    """The paper's training of a family: what ``None`` fields of the trial's TrainConfig become.

    Attributes:
        optimizer: one of :data:`sertext.config.OPTIMISERS`: "sgd" (Nesterov), "adam", "nadam",
            "rmsprop" (Keras' defaults), "adamw" (torch's, linear warm-up over the trial's steps) or
            "bertadam" (Adam with fixed weight decay and no bias correction, the text paper's fixed
            1000-step schedule).
        batch_size: utterances per optimiser step.
        lr: the learning rate.
        epochs: the budget in passes over the training utterances, where the paper gives epochs.
        iterations: the budget in optimiser steps, where the paper gives iterations (Makiuchi et al.);
            exactly one of ``epochs`` and ``iterations`` is set.
        selection: the model evaluated: "dev" (the epoch best on the dev metric) or "last" (the model
            at the end of the budget, with no dev set held out of the training utterances).
        betas: the Adam family's (Adam, NAdam, AdamW, BERT Adam).
        class_weights: categorical task: "inverse_frequency" (weighted cross-entropy) or "none".
        grad_clip: maximum global L2 norm of the gradients, or ``None`` (no clipping).
    """

    optimizer: str
    batch_size: int
    lr: float
    epochs: int | None = None
    iterations: int | None = None
    selection: str = "dev"
    betas: tuple = (0.9, 0.999)
    class_weights: str = "inverse_frequency"
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        if (self.epochs is None) == (self.iterations is None):
            raise ValueError(f"a paper's budget is epochs or iterations, exactly one; got epochs {self.epochs}, "
                             f"iterations {self.iterations}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")


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
        clip_labels: the paper's handling of dimensional labels outside the corpus' scale
            (``DataConfig.clip_labels``): ``"scale"`` (clipped to it) or ``"none"``.
        public_code: flat trial-config overrides that reproduce the family's public code where it
            departs from the paper (sertext follows the paper by default), e.g. as a sweep variant.
        paper: the paper the family comes from, as reports and ``--dry-run`` cite it.
        paper_models: the pretrained models that paper used, by model-config key and Hugging Face id
            (``{"text_model": "bert-base-uncased"}``): what a sweep on a real corpus trains with
            unless told otherwise (the demo keeps the offline models).
        metric_names: the paper's names of sertext's metrics where they differ
            (``{"uar": "WA", "wa": "UA"}``): how its report names them.
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
    clip_labels: str = "none"
    public_code: dict = field(default_factory=dict)
    paper: str = ""
    paper_models: dict = field(default_factory=dict)
    metric_names: dict = field(default_factory=dict)

    def model_class(self) -> type:
        module, _, name = self.model.partition(":")
        return getattr(importlib.import_module(f"sertext.models.{module}"), name)


def _last_dim(array) -> int:
    return int(array.shape[-1])


_TEXT_DIM = {"text_dim": ("text", _last_dim)}
_MULTISTAGE = "Triantafyllopoulos et al. (multistage conditioning)"
_BOTTLENECK = "Makiuchi et al. (cross-representation bottlenecks)"
# Makiuchi et al. §5: "WA is equivalent to the average recall over all the emotion classes and UA is the
# fraction of samples correctly classified", the reverse of common use (and of sertext's metric names)
_BOTTLENECK_METRICS = {"uar": "WA", "wa": "UA"}
_SEMANTIC = "Tzirakis et al. (semantic fusion)"
_ATMAJA = "Atmaja & Akagi (acoustic statistics + word embeddings)"
# Triantafyllopoulos et al. §4.2 (footnote 2): "bert-base-uncased distributed by Huggingface", both the
# fine-tuned text baseline and the frozen embeddings the fusion models are conditioned on
_BERT_BASE = {"text_model": "bert-base-uncased"}
# Triantafyllopoulos et al. (multistage conditioning) §4.2: SGD, Nesterov 0.9, lr 0.01, batch 64, 60
# epochs; categorical: cross-entropy weighted by inverse class frequency
_CNN14_TRAINING = Training("sgd", epochs=60, batch_size=64, lr=0.01)
# Makiuchi et al. §5: "a leave-one-session-out cross-validation" with no dev set: each fold trains on
# all four training sessions for a fixed budget, Adam 1e-4 with the default betas, the speech model at
# batch 2 for 1,000,000 iterations, and the last model is evaluated (selection "last", which also
# makes the fold hold out no dev utterances: DataConfig.dev_fraction resolves to 0).  The plain
# cross-entropy of Eq. 3 (§3.1.6; no class weights).  train.selection="dev" is the dev-selected
# variant (the best epoch on a hashed 20 % of the training utterances), not the paper's.
_CROSSREP_TRAINING = Training("adam", batch_size=2, lr=1e-4, iterations=1_000_000, selection="last",
                              class_weights="none")

ARCHITECTURES = {
    "cnn14": Architecture("cnn14:CNN14", {"log_mel": "log_mel"}, ("width", "dropout", "pretrained", "pooling"),
                          _CNN14_TRAINING, "CNN14", crop="seconds", paper=_MULTISTAGE),
    # Triantafyllopoulos et al. §4.2: the BERT baseline fine-tuned with Adam with fixed weight decay and
    # no bias correction (lr 2e-5, betas 0.9/0.999, eps 1e-6), a linear schedule of 1000 steps with 100
    # warm-up steps (train.schedule_steps, train.warmup_steps), batch 32, 4 epochs; weighted CE
    "text": Architecture("text:TextClassifier", {"tokens": "tokens"}, ("text_model", "max_tokens"),
                         Training("bertadam", epochs=4, batch_size=32, lr=2e-5), "Text", paper=_MULTISTAGE,
                         paper_models=_BERT_BASE),
    "sfcnn14": Architecture("sfcnn14:SFCNN14", {"log_mel": "log_mel", "text": "text_embedding"},
                            ("width", "dropout", "pretrained", "text_dim", "pooling"), _CNN14_TRAINING, "SFCNN14",
                            infer=_TEXT_DIM, crop="seconds", paper=_MULTISTAGE, paper_models=_BERT_BASE),
    "mfcnn14": Architecture("mfcnn14:MFCNN14", {"log_mel": "log_mel", "text": "text_embedding"},
                            ("width", "dropout", "pretrained", "text_dim", "pooling"), _CNN14_TRAINING, "MFCNN14",
                            infer=_TEXT_DIM, crop="seconds", paper=_MULTISTAGE, paper_models=_BERT_BASE),
    # Makiuchi et al.: wav2vec 2.0 layers (or the mel, for the ablation) → bottleneck codes → mel reconstruction
    "crossrep": Architecture(
        "makiuchi:CrossRepresentationModel",
        {"wav2vec": "wav2vec", "speaker": "speaker", "phones": "phones", "mel_target": "autovc_mel"},
        ("bottleneck", "downsample", "width", "n_layers", "feature_dim"), _CROSSREP_TRAINING,
        "Cross-representation (speech)",
        infer={"n_layers": ("wav2vec", lambda a: int(a.shape[0])), "feature_dim": ("wav2vec", _last_dim)},
        lengths=("wav2vec",), time_axis={"wav2vec": 1, "phones": 0, "mel_target": 0}, crop="segment",
        # §3.1.1, footnote 1: the "large" wav2vec 2.0 pre-trained on 60k hours of LibriVox
        paper=_BOTTLENECK, metric_names=_BOTTLENECK_METRICS,
        paper_models={"speech_model": "facebook/wav2vec2-large-lv60"}),
    "crossrep-mel": Architecture(
        "makiuchi:CrossRepresentationModel", {"mel": "autovc_mel", "speaker": "speaker", "phones": "phones"},
        ("bottleneck", "downsample", "width"), _CROSSREP_TRAINING, "Cross-representation (mel input)",
        fixed_options={"input": "mel"}, lengths=("mel",), time_axis={"mel": 0, "phones": 0}, crop="segment",
        paper=_BOTTLENECK, metric_names=_BOTTLENECK_METRICS),
    # Makiuchi et al.'s text CNN: Adam 1e-4, batch 4 for 412,800 iterations (§5) on all four training
    # sessions, the last model evaluated (no dev set, as the speech model), the plain cross-entropy of
    # Eq. 3 on the logits, token states without special tokens (§3.2); the public code trains on
    # sigmoid outputs and drops the first and last token positions
    "textcnn": Architecture("makiuchi:TextCNN", {"text_states": "token_states"},
                            ("feature_dim", "max_tokens", "sigmoid_outputs"),
                            Training("adam", batch_size=4, lr=1e-4, iterations=412_800, selection="last",
                                     class_weights="none"), "Text CNN",
                            infer={"feature_dim": ("text_states", _last_dim),
                                   "max_tokens": ("text_states", lambda a: int(a.shape[0]))},
                            public_code={"model.sigmoid_outputs": True, "model.token_positions": "drop_first_last"},
                            # §6.3: the "large" version of every transformer; Tables 4 and 5: BERT uncased best
                            paper=_BOTTLENECK, metric_names=_BOTTLENECK_METRICS,
                            paper_models={"text_model": "bert-large-uncased"}),
    # Atmaja & Akagi: utterance acoustic statistics + word vectors, LSTM branches, concatenation;
    # acoustic+text trained with RMSprop (§III-C; Keras defaults) lr 1e-3, batch 256, up to 50 epochs
    # (the acoustic-only rows with Nadam: train.optimizer="nadam"); labels clipped to the 1-5 scale
    # (§III-A).  Regression only in the paper: a categorical run uses the CNN14 paper's weighted CE.
    "lstmfusion": Architecture("atmaja:AtmajaModel", {"acoustic": "acoustic_stats", "words": "word_sequence"},
                               ("acoustic_dim", "word_dim", "text", "acoustic"),
                               Training("rmsprop", epochs=50, batch_size=256, lr=1e-3), "LSTM fusion",
                               infer={"acoustic_dim": ("acoustic", _last_dim), "word_dim": ("words", _last_dim)},
                               lengths=("words",), clip_labels="scale",
                               # §II-B: the HSF+BERT row, BERT's 768-d token vectors (GloVe and the other
                               # 300-d embeddings are files: model.word_vectors)
                               paper=_ATMAJA, paper_models=_BERT_BASE),
    # Tzirakis et al. §5: Adam at a fixed 1e-4, mini-batches of 25 sequences, gradient-norm clipping
    # at 5.0; no budget given: 50 epochs here.  The public TF code trains with Adam 5e-4, beta2 0.99,
    # batch 5 and no clipping (public_code).  Regression only in the paper: a categorical run uses
    # the CNN14 paper's weighted CE.
    "wavfusion": Architecture("tzirakis:TzirakisModel", {"waveform": "waveform_frames", "words": "semantic_frames"},
                              ("fusion", "frame_samples", "word_dim", "output_range", "width", "acoustic", "text"),
                              Training("adam", epochs=50, batch_size=25, lr=1e-4, grad_clip=5.0),
                              "Waveform + words",
                              infer={"frame_samples": ("waveform", _last_dim), "word_dim": ("words", _last_dim)},
                              lengths=("waveform", "words"),
                              public_code={"train.lr": 5e-4, "train.batch_size": 5, "train.betas": (0.9, 0.99),
                                           "train.grad_clip": 0.0},
                              paper=_SEMANTIC),  # trains its own Word2Vec and Speech2Vec per fold: no pretrained model
}


def display_name(arch: str) -> str:
    """How reports name an architecture (or a fusion row, or anything else, as it is)."""
    return ARCHITECTURES[arch].display if arch in ARCHITECTURES else arch
