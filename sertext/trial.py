"""One trial: config → fit on a fold for a budget → the selected model → dev and test predictions.

A trial is a pure function of its config and knows nothing of Ray or MLflow: per-epoch metrics go
to an optional ``reporter(epoch, metrics)`` callback (the sweep passes one that reports to Ray
Tune), and with ``checkpoint_dir`` set an interrupted trial resumes from its last finished epoch
and ends exactly where an uninterrupted one ends.

Each architecture trains as its paper does (:mod:`sertext.models.registry`, resolved into the
config by ``TrialConfig.resolved``): optimiser, Adam betas, learning rate, batch size, epochs, class
weights of the cross-entropy, gradient clipping, and the clipping of dimensional labels to the
corpus' scale.  The CNN14 family (the multistage-conditioning paper): SGD with Nesterov momentum
0.9, lr 0.01, batch 64, 60 epochs, random 5 s crops for training and full utterances for
evaluation, cross-entropy weighted by inverse class frequency.  On a GPU, mixed precision is used.

The budget is ``train.epochs`` or ``train.iterations`` (optimiser steps: the trial runs
ceil(iterations / steps per epoch) epochs and stops the last one when the budget is spent, so
exactly that many steps).  ``train.selection`` picks the model evaluated: ``"dev"`` keeps the best
dev epoch (UAR, or mean CCC for dimensional tasks), as most papers; ``"last"`` the model at the end
of the budget.  Makiuchi et al. (crossrep, crossrep-mel, textcnn; their §5) train each
leave-one-session-out fold on all four training sessions, 1,000,000 iterations at batch 2 (speech)
or 412,800 at batch 4 (text), and evaluate the last model, with no dev set: their default here
(``data.dev_fraction`` 0), so such a trial reports no ``dev/…`` metrics and no dev predictions.
"""

from __future__ import annotations

import functools
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sertext import metrics as M
from sertext.config import TrialConfig, default_cache_dir, trained_per_fold
from sertext.data import FOUR_CLASSES, cross_corpus_set, four_class, load_corpus, make_folds, used_utterances
from sertext.features import FeatureCache, extract
from sertext.features.extractors import feature_extractors
from sertext.features.lazy import SpeakerStandardised
from sertext.features.speaker import speaker_embeddings
from sertext.losses import ccc_loss, inverse_frequency_weights
from sertext.models import ARCHITECTURES, build
from sertext.models.cnn14 import MIN_FRAMES
from sertext.models.text import BertAdamW
from sertext.precision import autocast_dtype, trial_device
from sertext.predictions import categorical_table, dimensional_table

FRAMES_PER_S = 100  # log-Mel hop of 10 ms
LABEL_SCALES = {"iemocap": (1.0, 5.0), "msp-podcast": (1.0, 7.0)}  # the rating scales the labels average
PROBE_UNITS = (2048, 1024, 1024)  # the cross-representation paper's speaker probe (§6.2)
PROBE_EPOCHS = 10  # … trained as its public code does (analysis/cls_helpers.py)
PROBE_LR = 1e-4
STRATA = ("speaker", "gender", "mode", "dialogue_act")  # stored with the predictions for analyses
CHECKPOINT_FILE = "trial.pt"

Reporter = Callable[[int, dict], None]


@dataclass
class TrialResult:
    """What a trial returns.

    Attributes:
        metrics: ``{"{split}/{metric}": value}`` for dev and test of the selected model (and
            ``cross``, the whole other corpus, when the config names a cross-corpus evaluation);
            no ``dev/…`` keys where the fold has no dev set (``data.dev_fraction`` 0).  Plus
            ``probe/…`` (models with bottleneck codes) and ``semantic/…`` (a fold's semantic space).
        predictions: ``{"dev": table, "test": table[, "cross": table]}``, one row per utterance,
            with its speaker, gender, mode and dialogue act where the corpus has them; no ``"dev"``
            key where the fold has no dev set.
        best_epoch: the epoch (0-based) evaluated: the best on dev, or the last (``selection="last"``).
        history: per-epoch ``{"epoch", "train/loss", "dev/..."}`` dicts (``dev/…`` only with a dev set).
        config: the resolved config that ran.
    """

    metrics: dict
    predictions: dict
    best_epoch: int
    history: list = field(default_factory=list)
    config: TrialConfig | None = None


@dataclass
class _Split:
    """One partition of the fold: utterance ids, model inputs and targets."""

    ids: list
    inputs: dict  # model input name -> sequence over the utterances (read from the cache when used)
    targets: np.ndarray  # class index (categorical) or (n, targets) floats
    strata: pd.DataFrame  # per utterance: the STRATA columns the corpus has, for analyses


def run_trial(config: TrialConfig | dict, *, reporter: Reporter | None = None,
              progress: bool = False) -> TrialResult:
    """Train and evaluate one configuration on one fold (see the module docstring)."""
    config = (TrialConfig.from_dict(config) if isinstance(config, dict) else config).resolved()
    _seed_everything(config.train.seed)
    device = trial_device(config.train.device)
    table, classes = task_table(config, progress=progress)
    splits, feature_metrics = _prepare_splits(table, config, progress)
    scale = _TargetScale.of(splits["train"], config)
    splits["train"] = scale.standardised(splits["train"])
    _seed_everything(config.train.seed)  # again: extracting features (or finding them cached) may draw numbers
    fit = _new_fit(config, classes, splits, device)
    model, optimizer, scheduler, generator = fit.model, fit.optimizer, fit.scheduler, fit.generator
    budget = training_budget(config, len(splits["train"].ids))

    state = _load_checkpoint(config, model, optimizer, scheduler, generator)
    for epoch in range(state["epoch"], budget.epochs):
        train_loss = _train_epoch(fit, splits["train"], config, steps=budget.steps_in(epoch))
        if config.train.bn_recalibration:
            _recalibrate_batch_norm(model, splits["train"], config, generator, device)
        scores, dev_outputs = {}, None
        if "dev" in splits:
            dev_outputs = scale.restored(_predict(model, splits["dev"], config, device))
            scores = _score(dev_outputs, splits["dev"], config, classes)[0]
        _select(state, epoch, scores, dev_outputs, model, config)
        record = {"epoch": epoch, "train/loss": train_loss, **{f"dev/{k}": v for k, v in scores.items()}}
        state["history"].append(record)
        state["epoch"] = epoch + 1
        _save_checkpoint(config, state, model, optimizer, scheduler, generator)
        if reporter is not None:
            reporter(epoch, record)

    if state["best_model"] is not None:  # dev selection; "last" evaluates the model as training left it
        model.load_state_dict(state["best_model"])
    results, predictions = dict(feature_metrics), {}
    for split in [s for s in ("dev", "test", "cross") if s in splits]:
        if split == "dev":  # the best epoch's outputs: the best model would only compute them again
            outputs = state["best_dev_outputs"].numpy()
        else:
            outputs = scale.restored(_predict(model, splits[split], config, device))
        scores, predictions[split] = _score(outputs, splits[split], config, classes)
        results.update({f"{split}/{k}": v for k, v in scores.items()})
    if hasattr(model, "codes"):  # the fold's training and dev utterances (no dev set: all the training sessions')
        results.update(_speaker_probe(model, [splits[s] for s in ("train", "dev") if s in splits], config, device))
    return TrialResult(results, predictions, state["best_epoch"], state["history"], config)


# --- data ---------------------------------------------------------------------------------------
def task_table(config: TrialConfig, *, cross: bool = False, recognise: bool = True,
               progress: bool = False) -> tuple[pd.DataFrame, list]:
    """The labelled utterances of the task that the protocol's folds use (``cross``: those of the
    cross-corpus evaluation, :func:`sertext.data.cross_corpus_set`), and the class names (the
    targets for dimensional tasks).

    With ``data.asr_model`` (``data.cross_asr_model`` for the cross corpus) and ``recognise``, the
    ``text`` column holds the recognised transcripts (the corpus' own move to ``reference_text``),
    read from the feature cache, where the sweep's driver put them, and computed when missing.
    """
    data = config.data
    corpus, root, acts, asr = ((data.cross_corpus, data.cross_root, None, data.cross_asr_model) if cross
                               else (data.corpus, data.root, data.dialogue_acts, data.asr_model))
    table = load_corpus(corpus, root, dialogue_acts=acts)
    if data.task == "categorical":
        table, classes = four_class(table, merge_excited=data.merge_excited), list(FOUR_CLASSES)
    else:
        table, classes = table.dropna(subset=list(data.targets)), list(data.targets)
        clip = data.clip_labels or ARCHITECTURES[config.model.arch].clip_labels
        if clip == "scale":
            table = _clip_to_scale(table, list(data.targets), corpus)
    table = table.reset_index(drop=True)
    used = set(cross_corpus_set(table, corpus) if cross else used_utterances(table, data.protocol))
    table = table[table["utt_id"].isin(used)].reset_index(drop=True)
    if asr and recognise:
        from sertext.features.asr import with_recognised_text

        table = with_recognised_text(table, asr, FeatureCache(data.cache_dir or default_cache_dir()),
                                     progress=progress)
    return table, classes


def _clip_to_scale(table: pd.DataFrame, targets: list, corpus: str) -> pd.DataFrame:
    """Dimensional labels outside the corpus' rating scale moved onto its ends (IEMOCAP's 0.5 → 1
    and 5.5 → 5), as Atmaja & Akagi preprocess IEMOCAP (§III-A)."""
    if corpus not in LABEL_SCALES:
        raise ValueError(f"no label scale known for corpus {corpus!r}; known: {sorted(LABEL_SCALES)}")
    low, high = LABEL_SCALES[corpus]
    return table.assign(**{t: table[t].clip(low, high) for t in targets})


def fold_training(config: TrialConfig, *, recognise: bool = True) -> pd.DataFrame:
    """The training utterances of the trial's fold, as the trial reads them (what features trained
    per fold are trained on); ``recognise`` as in :func:`task_table`."""
    table, _ = task_table(config, recognise=recognise)
    return table[table["utt_id"].isin(set(_fold(table, config).train))]


def trial_folds(table: pd.DataFrame, config: TrialConfig) -> list:
    """The protocol's folds of ``table`` as the trial cuts them: with the dev set its (resolved)
    ``data.dev_fraction`` holds out."""
    fraction = config.resolved().data.dev_fraction
    return make_folds(table, config.data.protocol, **({} if fraction is None else {"dev_fraction": fraction}))


def _fold(table: pd.DataFrame, config: TrialConfig):
    """The trial's fold, with the dev set its (resolved) ``data.dev_fraction`` holds out."""
    folds = {f.name: f for f in trial_folds(table, config)}
    if config.data.fold not in folds:
        raise ValueError(f"fold {config.data.fold!r} is not in protocol {config.data.protocol}; "
                         f"folds: {sorted(folds)}")
    return folds[config.data.fold]


def _prepare_splits(table: pd.DataFrame, config: TrialConfig, progress: bool) -> tuple[dict, dict]:
    """The fold's train, dev and test splits (and the cross-corpus one), and the metrics its
    features report of themselves.  No ``"dev"`` split where the config holds no dev set out
    (``data.dev_fraction`` 0); an empty one elsewhere is an error."""
    fold = _fold(table, config)
    used = table[table["utt_id"].isin(set(fold.train + fold.dev + fold.test))]
    extractors = feature_extractors(config, used[used["utt_id"].isin(set(fold.train))], progress=progress)
    features = _split_features(used, config, extractors, progress)
    parts = [("train", fold.train), ("dev", fold.dev), ("test", fold.test)]
    splits = {name: _split(used, features, ids, config, f"fold {fold.name} has no {name} utterances")
              for name, ids in parts if name != "dev" or config.data.dev_fraction != 0}
    if config.data.cross_corpus:
        cross, _ = task_table(config, cross=True, progress=progress)
        splits["cross"] = _split(cross, _split_features(cross, config, extractors, progress), list(cross["utt_id"]),
                                 config, f"{config.data.cross_corpus} has no labelled utterances")
    return splits, _extractor_metrics(extractors)


def _extractor_metrics(extractors: dict) -> dict:
    """What features trained on the fold report of themselves: the semantic space's alignment
    check (``semantic/aligned_cosine`` against ``semantic/random_cosine``, …)."""
    space = getattr(extractors.get("semantic_frames"), "space", None)
    return {} if space is None else {f"semantic/{name}": value for name, value in space.check.items()}


def _split_features(table: pd.DataFrame, config: TrialConfig, extractors: dict, progress: bool) -> dict:
    features = _features(table, config, extractors, progress)
    if config.data.normalise == "speaker" and "log_mel" in features:
        features["log_mel"] = SpeakerStandardised(features["log_mel"], table.set_index("utt_id")["speaker"])
    return features


def _split(table: pd.DataFrame, features: dict, ids: list, config: TrialConfig, empty: str) -> _Split:
    if not ids:
        raise ValueError(empty)
    rows = table.set_index("utt_id").loc[ids]
    if config.data.task == "categorical":
        targets = rows["label"].map({c: i for i, c in enumerate(FOUR_CLASSES)}).to_numpy(np.int64)
    else:
        targets = rows[list(config.data.targets)].to_numpy(np.float32)
    strata = rows[[c for c in STRATA if c in rows.columns]].reset_index(drop=True)
    inputs = {name: _Column(features[kind], list(ids))
              for name, kind in ARCHITECTURES[config.model.arch].inputs.items()}
    return _Split(list(ids), inputs, targets, strata)


class _Column(Sequence):
    """One model input over a split's utterances, looked up in its feature mapping when used (the
    cache is read per batch, never the whole split at once)."""

    def __init__(self, values: Mapping, ids: list) -> None:
        self._values, self._ids = values, ids

    def __getitem__(self, i: int):
        return self._values[self._ids[i]]

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True)
class _TargetScale:
    """Dimensional targets as the model learns them: z-scored with the training split's mean and
    standard deviation when ``train.standardise_targets``, else as labelled (the papers').  Outputs
    are mapped back before scoring, so metrics and stored predictions stay on the labels' scale.

    Why: a regression head starts near 0 while IEMOCAP's labels lie around 3; the papers' 60 epochs
    close that gap, the demo's three do not (multitask test CCC on demo fold Ses01F: 0.12 with the
    labels as they are, 0.43 standardised).
    """

    mean: np.ndarray | None = None  # None: targets as labelled
    std: np.ndarray | None = None

    @classmethod
    def of(cls, train: _Split, config: TrialConfig) -> _TargetScale:
        if not config.train.standardise_targets:
            return cls()
        std = train.targets.std(axis=0)
        return cls(train.targets.mean(axis=0), np.where(std > 0, std, 1.0).astype(np.float32))

    def standardised(self, split: _Split) -> _Split:
        if self.mean is None:
            return split
        return replace(split, targets=((split.targets - self.mean) / self.std).astype(np.float32))

    def restored(self, outputs: np.ndarray) -> np.ndarray:
        return outputs if self.mean is None else (outputs * self.std + self.mean).astype(np.float32)


def _features(table: pd.DataFrame, config: TrialConfig, extractors: dict, progress: bool) -> dict:
    """``{feature kind: {utt_id: value}}`` for the inputs the architecture reads."""
    cache = FeatureCache(config.data.cache_dir or default_cache_dir())
    features = {kind: extract(table, extractor, cache, progress=progress) for kind, extractor in extractors.items()}
    if "speaker" in features:  # the cross-representation paper's speaker identity: a mean per speaker
        means = speaker_embeddings(table, features["speaker"])
        features["speaker"] = {u: means[s] for u, s in zip(table["utt_id"], table["speaker"], strict=True)}
    if "tokens" in ARCHITECTURES[config.model.arch].inputs.values():
        features["tokens"] = dict(zip(table["utt_id"], table["text"].astype(str), strict=True))
    return features


def _crop(log_mel: np.ndarray, frames: int, generator: torch.Generator) -> np.ndarray:
    """A random ``frames``-long crop; shorter utterances are padded at the end with their own
    quietest value per mel bin (their pauses), which stays in range after normalisation, unlike
    the -100 dB of digital silence."""
    if len(log_mel) > frames:
        start = int(torch.randint(0, len(log_mel) - frames + 1, (1,), generator=generator))
        return log_mel[start:start + frames]
    return _pad_quietest(log_mel, frames)


def _pad_quietest(log_mel: np.ndarray, frames: int) -> np.ndarray:
    """``log_mel`` padded at the end to ``frames`` frames with its quietest value per mel bin."""
    if len(log_mel) >= frames:
        return log_mel
    padded = np.repeat(log_mel.min(axis=0, keepdims=True), frames, axis=0)
    padded[: len(log_mel)] = log_mel
    return padded


def _segment(arrays: dict, axes: dict, frames: int, generator: torch.Generator | None) -> dict:
    """One utterance's time-aligned inputs cut at the same start to ``frames`` frames: a random start
    (the cross-representation paper's training crops), or the central segment without a generator;
    shorter utterances zero-padded at the end."""
    length = min(a.shape[axes.get(name, 0)] for name, a in arrays.items())
    if generator is None:
        start = max(0, (length - frames) // 2)
    else:
        start = int(torch.randint(0, length - frames + 1, (1,), generator=generator)) if length > frames else 0
    return {name: _pad_axis(np.take(a, range(start, min(start + frames, length)), axis=axes.get(name, 0)),
                            axes.get(name, 0), frames) for name, a in arrays.items()}


def _pad_axis(array: np.ndarray, axis: int, length: int) -> np.ndarray:
    widths = [(0, 0)] * array.ndim
    widths[axis] = (0, length - array.shape[axis])
    return np.pad(array, widths)


def _batch_inputs(split: _Split, index: list, config: TrialConfig, model, device,
                  generator: torch.Generator | None) -> dict:
    """Model keyword inputs for the utterances ``index`` (training crops when a generator is given)."""
    arch = ARCHITECTURES[config.model.arch]
    batch = {}
    if "tokens" in split.inputs:
        tokens = model.tokenize([split.inputs["tokens"][i] for i in index])
        batch.update({k: v.to(device) for k, v in tokens.items()})
    utterances = [{name: np.asarray(values[i]) for name, values in split.inputs.items() if name != "tokens"}
                  for i in index]
    if generator is not None and arch.crop == "seconds":
        frames = int(round(config.train.crop_s * FRAMES_PER_S))
        utterances = [{**u, "log_mel": _crop(u["log_mel"], frames, generator)} for u in utterances]
    elif arch.crop == "seconds":  # evaluation: whole utterances, the shortest padded to what CNN14 can pool
        utterances = [{**u, "log_mel": _pad_quietest(u["log_mel"], MIN_FRAMES)} for u in utterances]
    elif generator is not None and arch.crop == "segment":
        utterances = [{**u, **_segment({n: u[n] for n in arch.time_axis}, arch.time_axis, model.segment_frames,
                                       generator)} for u in utterances]
    for name in utterances[0] if utterances else ():
        batch.update(_collate(name, [u[name] for u in utterances], arch, device))
    return batch


def _collate(name: str, arrays: list, arch, device) -> dict:
    """Stack one input over a batch; variable-length inputs zero-padded, with their lengths where
    the model takes them."""
    tensor_of = lambda a: torch.from_numpy(a if a.dtype.kind in "iu" else a.astype(np.float32, copy=False))  # noqa: E731
    if name not in arch.lengths and name not in arch.time_axis:
        return {name: tensor_of(np.stack(arrays)).to(device)}
    axis = arch.time_axis.get(name, 0)
    lengths = [a.shape[axis] for a in arrays]
    batch = {name: tensor_of(np.stack([_pad_axis(a, axis, max(lengths)) for a in arrays])).to(device)}
    if name in arch.lengths:
        batch[f"{name}_lengths"] = torch.tensor(lengths, device=device)
    return batch


# --- model and optimisation ---------------------------------------------------------------------
def _build_model(config: TrialConfig, classes: list, splits: dict) -> torch.nn.Module:
    """The architecture with the config's options and the sizes its features dictate."""
    arch = ARCHITECTURES[config.model.arch]
    m, train = config.model, splits["train"]
    options = {"width": m.width, "dropout": m.dropout, "pretrained": m.pretrained, "text_model": m.text_model,
               "max_tokens": m.max_tokens, "bottleneck": m.bottleneck,
               "downsample": m.downsample, "fusion": m.fusion, "acoustic": m.modalities != "text",
               "text": m.modalities != "audio", "pooling": m.pooling, "sigmoid_outputs": m.sigmoid_outputs}
    options.update({option: read(np.asarray(train.inputs[name][0])) for option, (name, read) in arch.infer.items()})
    if "output_range" in arch.options:  # tanh outputs span the labels' scale (IEMOCAP 1-5, MSP-Podcast 1-7)
        options["output_range"] = (float(np.floor(train.targets.min())), float(np.ceil(train.targets.max()))) \
            if config.data.task == "dimensional" else None  # classification: raw logits
    return build(m.arch, n_outputs=len(classes), **options)


def _optimiser(model: torch.nn.Module, config: TrialConfig, steps_per_epoch: int):
    """The configured optimiser (the paper's for the architecture by default) and its learning-rate
    schedule, if any.

    * ``sgd``: Nesterov momentum (the CNN14 family's paper).
    * ``adam``, ``nadam``: torch's, with ``train.betas`` (Makiuchi et al. and Tzirakis et al. use
      Adam; Atmaja & Akagi's acoustic-only networks Nadam, with Keras' epsilon 1e-7 and momentum
      decay 0.004, which torch's NAdam shares).
    * ``rmsprop``: Keras' defaults, rho 0.9 and epsilon 1e-7 (Atmaja & Akagi's fusion network).
    * ``bertadam``: the text baseline's paper: Adam with fixed weight decay and no bias correction
      (:class:`~sertext.models.text.BertAdamW`, eps 1e-6) with Hugging Face's linear schedule:
      warm-up from 0 over ``train.warmup_steps``, decay to 0 at ``train.schedule_steps``.
    * ``adamw``: torch's AdamW (bias-corrected, eps 1e-6) with a linear warm-up over
      ``train.warmup_fraction`` of the trial's steps and a linear decay to 0 at its last step.
    """
    train = config.train
    parameters = model.parameters()
    if train.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=train.lr, momentum=train.momentum, nesterov=True,
                               weight_decay=train.weight_decay), None
    if train.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=train.lr, betas=train.betas, weight_decay=train.weight_decay), None
    if train.optimizer == "nadam":
        return torch.optim.NAdam(parameters, lr=train.lr, betas=train.betas, eps=1e-7, momentum_decay=4e-3,
                                 weight_decay=train.weight_decay), None
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=train.lr, alpha=0.9, eps=1e-7, weight_decay=train.weight_decay), None
    if train.optimizer == "bertadam":
        optimizer = BertAdamW(parameters, lr=train.lr, betas=train.betas, eps=1e-6, weight_decay=train.weight_decay)
        return optimizer, torch.optim.lr_scheduler.LambdaLR(
            optimizer, functools.partial(_hf_linear_schedule, warmup=train.warmup_steps, total=train.schedule_steps))
    # fused: one kernel for all 22M+ parameters, 6x faster than the loop on CPU (also on CUDA)
    optimizer = torch.optim.AdamW(parameters, lr=train.lr, betas=train.betas, eps=1e-6,
                                  weight_decay=train.weight_decay, fused=True)
    total = max(1, train.iterations or steps_per_epoch * train.epochs)
    warmup = max(1, int(round(train.warmup_fraction * total)))
    schedule = lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))  # noqa: E731
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def _hf_linear_schedule(step: int, *, warmup: int, total: int) -> float:
    """Hugging Face's ``get_linear_schedule_with_warmup``: the learning rate's factor at ``step``
    (0-based), rising linearly from 0 over ``warmup`` steps, then falling linearly to 0 at ``total``.

    Examples:
        >>> [_hf_linear_schedule(s, warmup=100, total=1000) for s in (0, 50, 100, 550, 1000, 1200)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def _loss(config: TrialConfig, targets: np.ndarray, n_classes: int, device) -> Callable:
    if config.loss == "ce":  # weighted by inverse class frequency (CNN14 paper) or plain (Makiuchi et al.'s Eq. 3)
        weights = inverse_frequency_weights(targets, n_classes).to(device) \
            if config.train.class_weights == "inverse_frequency" else None
        return lambda output, truth: torch.nn.functional.cross_entropy(output.float(), truth, weight=weights)
    if config.loss == "mse":
        return lambda output, truth: torch.nn.functional.mse_loss(output.float(), truth)
    weights = config.train.loss_weights
    return lambda output, truth: ccc_loss(truth, output.float(), weights)


@dataclass
class _Fit:
    """What one epoch of training updates and draws from."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None  # the text baseline's warm-up schedule
    loss_fn: Callable
    generator: torch.Generator  # the order of the utterances and their crops
    scaler: torch.amp.GradScaler  # float16 mixed precision on GPUs without bfloat16
    device: torch.device


def _new_fit(config: TrialConfig, classes: list, splits: dict, device: torch.device) -> _Fit:
    """The model, optimiser, loss and random generator a trial trains with."""
    model = _build_model(config, classes, splits).to(device)
    steps_per_epoch = len(_training_batches(list(range(len(splits["train"].ids))), config.train.batch_size))
    optimizer, scheduler = _optimiser(model, config, steps_per_epoch)
    return _Fit(model, optimizer, scheduler, _loss(config, splits["train"].targets, len(classes), device),
                torch.Generator().manual_seed(config.train.seed),
                torch.amp.GradScaler("cuda", enabled=autocast_dtype(config.train.amp, device) == torch.float16), device)


def training_step_seconds(config: TrialConfig | dict, *, steps: int = 2) -> tuple[float, int, str]:
    """Seconds one training step of the trial's model takes on the trial's device (the mean of
    ``steps`` after one warm-up step), on a batch of its fold's training utterances; the number
    of training utterances in the fold; and the device: what ``--dry-run`` estimates a sweep's
    work from.

    Features trained per fold (wavfusion's Word2Vec and Speech2Vec) are replaced by the text
    model's token embeddings of the same words: timing must not train a semantic space, and the
    fusion network's cost barely depends on the word vectors' width.
    """
    config = (TrialConfig.from_dict(config) if isinstance(config, dict) else config).resolved()
    if trained_per_fold(config):
        config = replace(config, model=replace(config.model, semantic="vectors"))
    device = trial_device(config.train.device)
    table, classes = task_table(config, recognise=False)  # a step costs the same on recognised text
    training = fold_training(config, recognise=False)
    batch = table[table["utt_id"].isin(set(training["utt_id"][: max(2, config.train.batch_size)]))]
    extractors = feature_extractors(config, training, progress=False)
    split = _split(batch, _split_features(batch, config, extractors, False), list(batch["utt_id"]), config,
                   "the fold has no training utterances")
    fit = _new_fit(config, classes, {"train": split}, device)
    _train_epoch(fit, split, config)  # warm-up: allocations, kernel selection
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        _train_epoch(fit, split, config)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps, len(training), str(device)


@dataclass(frozen=True)
class Budget:
    """How long a trial trains: ``epochs`` passes over the training utterances of ``steps_per_epoch``
    optimiser steps each; with ``iterations`` (a budget in steps) the last pass stops where the budget
    ends, so the trial takes exactly ``iterations`` steps."""

    epochs: int
    steps_per_epoch: int
    iterations: int | None = None

    @property
    def steps(self) -> int:
        """The optimiser steps of the whole trial."""
        return self.epochs * self.steps_per_epoch if self.iterations is None else self.iterations

    def steps_in(self, epoch: int) -> int:
        """The steps of epoch ``epoch`` (0-based)."""
        return min(self.steps_per_epoch, self.steps - epoch * self.steps_per_epoch)


def training_budget(config: TrialConfig, n_train: int) -> Budget:
    """The budget of a resolved ``config`` on ``n_train`` training utterances: its epochs, or as many
    as ``train.iterations`` steps need (what a sweep's time estimate multiplies).

    Raises:
        ValueError: the batches train no step (batches of one utterance, which are left out).
    """
    steps = len(_training_batches(list(range(n_train)), config.train.batch_size))
    if steps == 0:
        raise ValueError(f"{n_train} training utterances in batches of {config.train.batch_size} give no training "
                         "step: BatchNorm cannot train on a batch of one, so such batches are left out")
    iterations = config.train.iterations
    return Budget(config.train.epochs if iterations is None else -(-iterations // steps), steps, iterations)


def _training_batches(order: list, batch_size: int) -> list[list]:
    """``order`` cut into consecutive batches of ``batch_size``, less a batch of one utterance
    (BatchNorm cannot train on it) unless that is all there is."""
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    return [batch for batch in batches if len(batch) >= 2 or len(order) == 1]


def _train_epoch(fit: _Fit, split: _Split, config: TrialConfig, steps: int | None = None) -> float:
    """One pass over the training utterances in a random order, in batches, stopped after ``steps``
    optimiser steps if given (the end of a budget in iterations); the mean loss."""
    model, optimizer, generator, device = fit.model, fit.optimizer, fit.generator, fit.device
    model.train()
    order = torch.randperm(len(split.ids), generator=generator).tolist()
    amp = autocast_dtype(config.train.amp, device)
    total, count = 0.0, 0
    for index in _training_batches(order, config.train.batch_size)[:steps]:
        inputs = _batch_inputs(split, index, config, model, device, generator)
        truth = torch.from_numpy(split.targets[index]).to(device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            output = model(**inputs)
            auxiliary = 0.0
            if isinstance(output, tuple):  # e.g. the reconstruction losses of the cross-representation model
                output, auxiliary = output
            loss = fit.loss_fn(output, truth) + auxiliary
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss became {loss.item()} (lr {config.train.lr} too high?)")
        optimizer.zero_grad(set_to_none=True)
        fit.scaler.scale(loss).backward()
        if config.train.grad_clip:  # the global gradient norm (Tzirakis et al.: 5.0); the unscaled gradients
            fit.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        fit.scaler.step(optimizer)
        fit.scaler.update()
        if fit.scheduler is not None:
            fit.scheduler.step()
        total += loss.item() * len(index)
        count += len(index)
    return total / max(count, 1)


@torch.no_grad()
def _recalibrate_batch_norm(model, split: _Split, config: TrialConfig, generator: torch.Generator,
                            device) -> None:
    """Recompute BatchNorm running statistics over one pass of training crops, as PyTorch's
    cumulative averages: each batch's mean and (unbiased) variance weigh equally.

    With few steps per epoch (small corpora) the exponential running averages lag behind the
    weights and evaluation drifts from training; this pass removes that lag.  Dropout stays off
    during the pass, so the statistics are those of the activations evaluation sees: estimated with
    dropout on they carry its extra variance (the "variance shift"), which left CCC-trained demo
    predictions 1.3 points below the labels (multitask test CCC 0.07; 0.43 with dropout off).
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
    model.eval()
    for norm in norms:
        norm.train()
    order = torch.randperm(len(split.ids), generator=generator).tolist()
    for start in range(0, len(order), config.train.batch_size):
        index = order[start:start + config.train.batch_size]
        model(**_batch_inputs(split, index, config, model, device, generator))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum


@torch.no_grad()
def _predict(model, split: _Split, config: TrialConfig, device) -> np.ndarray:
    """Model outputs for every utterance, full length, in :func:`_evaluation_batches`."""
    model.eval()
    amp = autocast_dtype(config.train.amp, device)
    outputs = []
    for index in _evaluation_batches(split, config):
        inputs = _batch_inputs(split, index, config, model, device, None)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            outputs.append(model(**inputs).float().cpu())
    return torch.cat(outputs).numpy()


def _evaluation_batches(split: _Split, config: TrialConfig) -> list[list[int]]:
    """Consecutive utterances to evaluate together: batches of ``train.batch_size`` where the model
    masks padding (token masks, inputs with lengths), else one at a time (the CNN family, so that no
    padding changes the pooled statistics).

    A batch of inputs with lengths also stays within ``batch_size`` utterances of twice the split's
    median length once padded: long utterances go in smaller batches (the longest alone), so the
    memory an evaluation needs does not grow with the longest utterances a larger corpus brings.
    """
    arch, size, n = ARCHITECTURES[config.model.arch], config.train.batch_size, len(split.ids)
    if "tokens" in arch.inputs or not arch.lengths:
        step = size if "tokens" in arch.inputs else 1
        return [list(range(start, min(start + step, n))) for start in range(0, n, step)]
    name = arch.lengths[0]
    lengths = [np.shape(split.inputs[name][i])[arch.time_axis.get(name, 0)] for i in range(n)]
    budget = size * max(2 * float(np.median(lengths)), 1.0)
    batches, longest = [[]], 0
    for i, length in enumerate(lengths):
        batch = batches[-1]
        if batch and (len(batch) == size or (len(batch) + 1) * max(longest, length) > budget):
            batches.append(batch := [])
            longest = 0
        batch.append(i)
        longest = max(longest, length)
    return batches


def _score(outputs: np.ndarray, split: _Split, config: TrialConfig, classes: list) -> tuple[dict, pd.DataFrame]:
    """Metrics and the per-utterance prediction table of one split from the model's outputs (the
    metrics computed from the table, as aggregation recomputes them)."""
    if config.data.task == "categorical":
        probabilities = torch.softmax(torch.from_numpy(outputs), dim=1).numpy()
        table = categorical_table(split.ids, [classes[i] for i in split.targets], probabilities, classes)
    else:
        table = dimensional_table(split.ids, split.targets, outputs, classes)
    return M.table_metrics(table), pd.concat([table, split.strata], axis=1)


def _speaker_probe(model, splits: list, config: TrialConfig, device) -> dict:
    """How much speaker identity a model's bottleneck codes keep (the cross-representation paper's
    Table 3, §6.2): a speaker classifier trained on the codes of a random 80 % of every speaker's
    utterances (those of ``splits``: the fold's training and dev utterances, so on a
    leave-one-session-out fold, with or without a dev set, every utterance of the four training
    sessions, as the paper's folds) and scored on the other 20 %.

    ``model.probe="mlp"`` (default) is the paper's: "4-linear-layer (with … 2048, 1024, 1024, and 8
    neurons) classifiers", one output per speaker, trained on a cross-entropy loss with Adam at lr
    1e-4 (§5: "in every training experiment").  What the paper leaves open follows its public code
    (``analysis/cls_helpers.py``): Softplus between the layers, PyTorch's default init, 10 epochs of
    one segment per step over every evaluation segment of each training utterance, and a held-out
    utterance scored by its mean segment posterior (:func:`_mlp_probe`).  ``"linear"`` is lighter:
    a logistic regression on the standardised codes of each utterance's central segment, the usual
    measure of what the codes hold linearly.

    Returns ``probe/speaker_uar``, ``probe/speaker_wa`` (accuracy: what the paper's Table 3 calls
    UA, by its own swapped definitions in §4) and ``probe/speakers``.
    """
    arch = ARCHITECTURES[config.model.arch]
    model.eval()
    codes, speakers = [], []
    for split in splits:
        for i, speaker in enumerate(split.strata["speaker"]):
            utterance = {name: np.asarray(split.inputs[name][i]) for name in arch.time_axis}
            codes.append(_utterance_codes(model, utterance, np.asarray(split.inputs["speaker"][i]), config, device))
            speakers.append(str(speaker))
    speakers = np.array(speakers)
    held_out = np.zeros(len(speakers), bool)
    rng = np.random.default_rng(config.train.seed)
    for speaker in np.unique(speakers):
        members = np.flatnonzero(speakers == speaker)
        held_out[rng.choice(members, size=max(1, int(round(0.2 * len(members)))), replace=False)] = True
    if config.model.probe == "mlp":
        predicted = _mlp_probe(codes, speakers, held_out, config, device)
    else:
        predicted = _linear_probe(np.stack(codes), speakers, held_out)
    truth = speakers[held_out]
    return {"probe/speaker_uar": M.uar(truth, predicted), "probe/speaker_wa": M.wa(truth, predicted),
            "probe/speakers": float(len(set(speakers)))}


@torch.no_grad()
def _utterance_codes(model, utterance: dict, speaker: np.ndarray, config: TrialConfig, device) -> np.ndarray:
    """One utterance's codes: of its central segment (``(n_code_dims,)``, the linear probe) or of
    every evaluation segment (``(segments, n_code_dims)``, the MLP probe)."""
    arch = ARCHITECTURES[config.model.arch]
    speaker = torch.from_numpy(speaker.astype(np.float32))[None].to(device)
    if config.model.probe == "linear":
        segment = _segment(utterance, arch.time_axis, model.segment_frames, None)
        inputs = {n: torch.from_numpy(a.astype(np.float32))[None].to(device) for n, a in segment.items()
                  if n in arch.lengths}  # the speech input (the codes need no phones or target)
        return model.codes(speaker=speaker, **inputs)[0].float().cpu().numpy()
    inputs = {n: torch.from_numpy(a.astype(np.float32))[None].to(device) for n, a in utterance.items()
              if n in arch.lengths}
    return model.utterance_codes(speaker=speaker, **inputs)[0].float().cpu().numpy()


def _linear_probe(codes: np.ndarray, speakers: np.ndarray, held_out: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(codes[~held_out])
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(codes[~held_out]), speakers[~held_out])
    return probe.predict(scaler.transform(codes[held_out]))


def _probe_network(n_inputs: int, n_speakers: int) -> torch.nn.Sequential:
    """The paper's four linear layers (2048, 1024, 1024, one output per speaker) with the public
    code's Softplus between them."""
    sizes = [n_inputs, *PROBE_UNITS]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.Softplus()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], n_speakers))


def _mlp_probe(codes: list, speakers: np.ndarray, held_out: np.ndarray, config: TrialConfig, device) -> np.ndarray:
    """The paper's speaker probe (see :func:`_speaker_probe`) on per-utterance segment codes
    ``(segments, n_code_dims)``; the predicted speaker of each held-out utterance."""
    names = sorted(set(speakers))
    labels = torch.tensor([names.index(s) for s in speakers], device=device)
    probe = _probe_network(codes[0].shape[1], len(names)).to(device)
    optimizer = torch.optim.Adam(probe.parameters(), lr=PROBE_LR, fused=True)  # one kernel: ~20x faster on CPU
    generator = torch.Generator().manual_seed(config.train.seed)
    segments = [torch.from_numpy(c.astype(np.float32)).to(device) for c in codes]
    training = np.flatnonzero(~held_out)
    for _ in range(PROBE_EPOCHS):
        for i in torch.randperm(len(training), generator=generator).tolist():
            utterance = training[i]
            for segment in segments[utterance]:  # one step per segment, as the public code
                loss = torch.nn.functional.cross_entropy(probe(segment[None]), labels[utterance, None])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    with torch.no_grad():
        posteriors = [torch.softmax(probe(segments[u]), dim=1).mean(dim=0) for u in np.flatnonzero(held_out)]
    return np.array([names[int(p.argmax())] for p in posteriors])


def _select(state: dict, epoch: int, scores: dict, dev_outputs: np.ndarray | None, model,
            config: TrialConfig) -> None:
    """Record in ``state`` the epoch the trial will evaluate: with ``train.selection="dev"`` the best
    so far on the dev metric (and a copy of its weights), with ``"last"`` each epoch in turn (the
    weights are the model's own at the end: no copy)."""
    dev = None if dev_outputs is None else torch.from_numpy(dev_outputs)
    if config.train.selection == "last":
        state.update(best_epoch=epoch, best_dev_outputs=dev)
        return
    score = _selection_score(scores, config)
    if state["best_score"] is None or score > state["best_score"]:
        state.update(best_score=score, best_epoch=epoch, best_model=_copy_state(model), best_dev_outputs=dev)


def _selection_score(scores: dict, config: TrialConfig) -> float:
    value = scores["uar"] if config.data.task == "categorical" else scores["ccc"]
    return float(value) if np.isfinite(value) else float("-inf")


# --- reproducibility and checkpoints ------------------------------------------------------------
def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _copy_state(model: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _identity(config: TrialConfig) -> dict:
    """What must match for a checkpoint to belong to a trial (its folder may move)."""
    return {k: v for k, v in config.to_dict().items() if k != "checkpoint_dir"}


def _load_checkpoint(config: TrialConfig, model, optimizer, scheduler, generator) -> dict:
    """The training state to start from: fresh, or restored from ``checkpoint_dir``."""
    best_model = _copy_state(model) if config.train.selection == "dev" else None  # "last": the model itself
    fresh = {"epoch": 0, "best_score": None, "best_epoch": -1, "best_model": best_model,
             "best_dev_outputs": None, "history": []}
    if not config.checkpoint_dir:
        return fresh
    path = Path(config.checkpoint_dir) / CHECKPOINT_FILE
    if not path.is_file():
        return fresh
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved["config"] != _identity(config):
        raise ValueError(f"checkpoint {path} belongs to a different trial config; use another checkpoint_dir")
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(saved["scheduler"])
    generator.set_state(saved["generator"])
    torch.set_rng_state(saved["torch_rng"])
    return {k: saved[k] for k in fresh}


def _save_checkpoint(config: TrialConfig, state: dict, model, optimizer, scheduler, generator) -> None:
    if not config.checkpoint_dir:
        return
    folder = Path(config.checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {**state, "config": _identity(config), "model": model.state_dict(),
               "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict() if scheduler else None,
               "generator": generator.get_state(), "torch_rng": torch.get_rng_state()}
    temporary = folder / f".{CHECKPOINT_FILE}.tmp-{os.getpid()}"
    torch.save(payload, temporary)
    os.replace(temporary, folder / CHECKPOINT_FILE)
