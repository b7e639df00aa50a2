"""Which extractor computes each feature kind that architectures read (their ``inputs`` in
:mod:`sertext.models.registry`), with the trial config's settings: what a trial loads and what a
sweep extracts once before its trials start."""

from __future__ import annotations

from sertext.config import TrialConfig
from sertext.models import ARCHITECTURES

from . import LogMelExtractor, TextEmbeddingExtractor
from .autovc_mel import AutoVCMelExtractor
from .frames import AlignedWordsExtractor, WaveformFramesExtractor
from .phones import PhoneExtractor
from .pyaudio import AcousticStatsExtractor
from .speaker import SpeakerEmbeddingExtractor
from .token_states import TokenStatesExtractor
from .wav2vec import Wav2Vec2Extractor
from .words import WordSequenceExtractor, load_word_vectors


def feature_extractors(config: TrialConfig) -> dict:
    """``{feature kind: extractor}`` for the cached features the trial's architecture reads
    (``tokens`` are the raw transcripts and need none)."""
    m = config.model
    words = m.word_vectors or m.text_model  # a vectors file, else the transformer's token embeddings
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
        "aligned_words": lambda: AlignedWordsExtractor(load_word_vectors(words)),
    }
    kinds = set(ARCHITECTURES[m.arch].inputs.values())
    return {kind: factories[kind]() for kind in sorted(kinds) if kind in factories}
