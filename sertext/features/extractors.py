"""Which extractor computes each feature kind that architectures read (their ``inputs`` in
:mod:`sertext.models.registry`), with the trial config's settings: what a trial loads and what a
sweep extracts once before its trials start."""

from __future__ import annotations

import pandas as pd

from sertext.config import TrialConfig, default_cache_dir
from sertext.models import ARCHITECTURES
from sertext.semantic.space import SemanticConfig

from . import FeatureCache, LogMelExtractor, TextEmbeddingExtractor
from .autovc_mel import AutoVCMelExtractor
from .frames import AlignedWordsExtractor, WaveformFramesExtractor
from .phones import PhoneExtractor
from .pyaudio import AcousticStatsExtractor
from .semantic import SemanticFramesExtractor
from .speaker import SpeakerEmbeddingExtractor
from .token_states import TokenStatesExtractor
from .wav2vec import Wav2Vec2Extractor
from .words import WordSequenceExtractor, load_word_vectors


def feature_extractors(config: TrialConfig, training: pd.DataFrame | None = None, *, progress: bool = True) -> dict:
    """``{feature kind: extractor}`` for the cached features the trial's architecture reads
    (``tokens`` are the raw transcripts and need none).

    ``training`` is the fold's training utterances, which features trained per fold (wavfusion's
    Word2Vec and Speech2Vec inputs) are trained on.

    Raises:
        ValueError: a per-fold feature without ``training``.
    """
    m = config.model
    words = m.word_vectors or m.text_model  # a vectors file, else the transformer's token embeddings

    def semantic_frames():
        if m.semantic == "vectors":
            return AlignedWordsExtractor(load_word_vectors(words))
        if training is None:
            raise ValueError(f"model.semantic={m.semantic!r} is trained per fold: pass the fold's training utterances")
        return SemanticFramesExtractor(m.semantic, training, FeatureCache(config.data.cache_dir or default_cache_dir()),
                                       SemanticConfig(dictionary=m.alignment_dictionary), progress=progress)

    factories = {
        "log_mel": LogMelExtractor,
        "text_embedding": lambda: TextEmbeddingExtractor(m.text_model, "mean", m.include_special_tokens,
                                                         m.max_tokens),
        "wav2vec": lambda: Wav2Vec2Extractor(m.speech_model),
        "autovc_mel": AutoVCMelExtractor,
        "speaker": SpeakerEmbeddingExtractor,
        "phones": PhoneExtractor,
        "token_states": lambda: TokenStatesExtractor(m.text_model, positions=m.token_positions),
        "acoustic_stats": AcousticStatsExtractor,
        "word_sequence": lambda: WordSequenceExtractor(words),
        "waveform_frames": WaveformFramesExtractor,
        "semantic_frames": semantic_frames,
    }
    kinds = set(ARCHITECTURES[m.arch].inputs.values())
    return {kind: factories[kind]() for kind in sorted(kinds) if kind in factories}
