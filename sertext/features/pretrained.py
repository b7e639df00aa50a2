"""Pretrained models by Hugging Face id or local folder: whether each can be loaded, asked before a
sweep spends anything on it, and a cache identity for a local folder.

A sweep reads its papers' models by their Hugging Face ids (``bert-base-uncased``,
``facebook/wav2vec2-large-lv60``, …).  Without network, behind a gated repository or with a typo,
each trial would fail on its own, after the features of the others were extracted: two hundred
failed trials for one missing model.  :func:`check_pretrained` loads the model's configuration
(from the local Hugging Face cache first, then the hub) and turns any failure into one line that
names the model and how to give a local folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

_REASON_CHARS = 200


def local_identity(path: Path) -> str:
    """``local:<hash>`` of a model folder's ``config.json`` and its file names and sizes: a cache
    identity that does not depend on where the folder lives."""
    files = sorted((p.relative_to(path).as_posix(), p.stat().st_size) for p in path.rglob("*") if p.is_file())
    config = (path / "config.json").read_text() if (path / "config.json").is_file() else ""
    return f"local:{hashlib.sha256(json.dumps([config, files]).encode()).hexdigest()[:16]}"


def looks_local(name: str) -> bool:
    """Whether ``name`` means a folder rather than a hub id (``org/name`` has at most one slash)."""
    return (Path(name).expanduser().exists() or name.startswith(("/", ".", "~")) or name.count("/") > 1
            or "\\" in name)


def check_pretrained(name: str, what: str, option: str, *, otherwise: str = "") -> None:
    """Raise ``ValueError`` (one line) unless ``name`` loads: a model folder with a ``config.json``,
    the offline default text model, or a Hugging Face id in the local cache or on the hub.

    The hub is not asked when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set, read here at
    call time (huggingface_hub reads it only when first imported); without network and without it,
    the hub's retries take about 20 s before the error.

    Args:
        name: the model id or folder.
        what: what it is, for the message (``"text model"``).
        option: the command-line option that takes a local folder instead (``"--text-model"``).
        otherwise: an alternative the message offers last (``"use --asr-model pocketsphinx (offline)"``).
    """
    from .text import DEFAULT_TEXT_MODEL

    if name == DEFAULT_TEXT_MODEL:
        return
    tail = f", or {otherwise}" if otherwise else ""
    if not name or looks_local(name):
        path = Path(name).expanduser()
        fix = f"give the folder a model was saved to (save_pretrained, hf download --local-dir) with {option}{tail}"
        if not path.is_dir():
            raise ValueError(f"{what} {name!r}: no such folder (nor a Hugging Face id); {fix}")
        if not (path / "config.json").is_file():
            raise ValueError(f"{what} {name!r}: the folder has no config.json; {fix}")
        return
    reason = _hub_config_error(name)
    if reason:
        raise ValueError(f"cannot load {what} {name!r}: {reason}. Download it where there is network "
                         f"(hf download {name} --local-dir FOLDER) and pass that folder with {option} FOLDER, "
                         f"or point HF_HOME at a Hugging Face cache that holds it{tail}")


def _hub_config_error(name: str) -> str:
    """Why the configuration of hub model ``name`` cannot be loaded (the first line of the error,
    shortened), or ``""`` when it loads: from the local cache first, so a cached model needs no network."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
        return ""
    except Exception as error:  # any failure means "not cached here"; the hub is asked next
        reason = _first_line(error)
    if _offline():
        return reason
    try:
        AutoConfig.from_pretrained(name)
        return ""
    except Exception as error:  # the hub's reasons vary: 404, gated, no network, a bad id
        return _first_line(error)


def _offline() -> bool:
    flags = (os.environ.get(var, "").strip().lower() for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag in ("1", "true", "yes", "on") for flag in flags)


def _first_line(error: Exception) -> str:
    line = (str(error).strip().splitlines() or [type(error).__name__])[0].strip().rstrip(".")
    return line if len(line) <= _REASON_CHARS else line[:_REASON_CHARS - 1] + "…"


def check_word_vectors(path: str, option: str) -> None:
    """Raise ``ValueError`` (one line) unless ``path`` is a word-vector file."""
    if not Path(path).expanduser().is_file():
        raise ValueError(f"word vectors {path!r}: no such file; give a GloVe, word2vec or fastText text file with "
                         f"{option}")
