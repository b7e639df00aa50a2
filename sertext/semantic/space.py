"""A fold's semantic space (Tzirakis et al., ICASSP 2021, §3.1), trained on its training utterances
only, and the semantic features it gives any utterance.

:func:`train_space` trains, from the training utterances' transcripts, word alignments and audio:

1. Word2Vec on the transcripts (:mod:`sertext.semantic.word2vec`);
2. Speech2Vec on the word segments (:mod:`sertext.semantic.speech2vec`): a segment is a span of the
   word alignment that is speech (not a sentence marker or silence), its frames the utterance's
   13 MFCCs inside the span (the DCT of the cached log-Mel spectrogram, 10 ms hop, standardised
   with the training segments' mean and standard deviation), the skip-gram pairs its neighbours in
   the same utterance;
3. the map ``W`` of Speech2Vec's word vectors (a word's segments' mean) onto Word2Vec's
   (:func:`sertext.semantic.alignment.align`: the adversarial proxy, then Procrustes on the
   frequent words), with its held-out check.

:class:`SemanticSpace` then gives an utterance's semantic vectors, one per word segment:

* ``word2vec``: the Word2Vec vector of the segment's transcribed word (zeros for a word the
  training transcripts never had): the paper's Word2Vec row, which needs the transcript;
* ``speech2vec``: the Speech2Vec encoder's vector of the segment's frames: speech only;
* ``aligned_speech2vec``: ``W`` times that vector, the paper's model: speech only.

Every vector is scaled to unit length (as :func:`align` does before mapping, so ``W`` applies to
the speech vectors exactly as it was learnt; the Word2Vec rows likewise, so the three rows differ
in their space, not their scale).

Settings the paper leaves open (:class:`SemanticConfig`): 100 dimensions for both spaces (the
public code's word vectors), Speech2Vec's window 3 (Chung & Glass) and 10 epochs, MUSE's
adversarial settings with a budget scaled to the vocabulary (:func:`adversarial_steps`), and the
dictionary's ``k`` and held-out words from :func:`alignment_sizes`.
One space per fold, trained with seed 0 whatever the trial's seed: it is a feature, shared by every
trial of the fold (the paper trains it once), so the seeds measure the fusion network's spread.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import scipy.fft

from sertext.config import SEMANTICS as ALL_SEMANTICS

from .alignment import DICTIONARIES, AdversarialConfig, align
from .speech2vec import Speech2Vec, embed_segments, train_speech2vec, word_embeddings
from .word2vec import Word2VecConfig, train_word2vec

SEMANTICS = tuple(s for s in ALL_SEMANTICS if s != "vectors")  # trained per fold, see the module docstring
SPEECH_ONLY = ("aligned_speech2vec", "speech2vec")  # these read no transcript at evaluation
HOP_S = 0.01  # the log-Mel hop (sertext.features.log_mel)
CHECKS = ("aligned_cosine", "adversarial_cosine", "random_cosine", "discriminator_accuracy_start",
          "discriminator_accuracy_end", "dictionary_precision", "dictionary_pairs", "held_out_words")


@dataclass(frozen=True)
class SemanticConfig:
    """How a fold's semantic space is trained (the module docstring says why these values)."""

    dim: int = 100  # both spaces
    word2vec: Word2VecConfig = Word2VecConfig()
    speech2vec_window: int = 3  # Chung & Glass
    speech2vec_epochs: int = 10
    n_mfcc: int = 13  # Chung & Glass
    dictionary: str = "induced"  # the paper's (via MUSE); "shared_words": supervised, see alignment.py
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)  # its steps: the most
    adversarial_samples_per_word: float = 67.0  # MUSE's 5 × 1M samples over its 75k most frequent words
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dictionary not in DICTIONARIES:
            raise ValueError(f"dictionary must be one of {DICTIONARIES}, got {self.dictionary!r}")
        if self.word2vec.dim != self.dim:
            object.__setattr__(self, "word2vec", Word2VecConfig(**{**asdict(self.word2vec), "dim": self.dim}))

    def settings(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SpokenUtterance:
    """What training reads of one utterance: its MFCCs, its word segments and its transcript."""

    mfcc: np.ndarray  # (frames, n_mfcc) at HOP_S
    spans: tuple[tuple[float, float], ...]  # the speech segments of its word alignment, in spoken order
    words: tuple[str, ...]  # the word of each span ("" for a span without one)
    transcript: tuple[str, ...]  # the transcript's words (Word2Vec)


def mfcc(log_mel: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    """MFCCs of a log-Mel spectrogram ``(frames, n_mels)``: its orthonormal DCT-II over the mel
    axis, first ``n_mfcc`` coefficients (librosa's ``mfcc`` on a dB spectrogram)."""
    return scipy.fft.dct(np.asarray(log_mel, dtype=np.float64), type=2, norm="ortho", axis=-1)[:, :n_mfcc] \
        .astype(np.float32)


def span_frames(frames: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """The rows of ``frames`` (10 ms hop, centred) whose centre lies in ``[start_s, end_s)``; a span
    too short to hold a centre gets the row nearest its middle (every segment needs a frame).

    Examples:
        >>> span_frames(np.arange(10.0)[:, None], 0.02, 0.05).ravel().tolist()
        [2.0, 3.0, 4.0]
        >>> span_frames(np.arange(10.0)[:, None], 0.021, 0.025).ravel().tolist()
        [2.0]
    """
    first = int(np.ceil(round(start_s / HOP_S, 6)))
    stop = int(np.ceil(round(end_s / HOP_S, 6)))
    last = len(frames) - 1
    if stop <= first or first > last:
        middle = min(max(int(round((start_s + end_s) / 2 / HOP_S)), 0), last)
        return frames[middle:middle + 1]
    return frames[max(first, 0):min(stop, last + 1)]


def unit(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def adversarial_steps(n_words: int, config: SemanticConfig) -> int:
    """Map updates for a vocabulary of ``n_words``: MUSE's samples per word (each word drawn about
    67 times), at most ``config.adversarial.steps``.  MUSE's fixed 5M samples are for 200k-word
    vocabularies; a corpus's few thousand words need far fewer, and each update costs five passes
    of a 2048-wide discriminator (0.1-0.2 s on a CPU core).

    Examples:
        >>> adversarial_steps(300, SemanticConfig()), adversarial_steps(10**6, SemanticConfig())
        (629, 5000)
    """
    batch = config.adversarial.batch_size
    return min(config.adversarial.steps, math.ceil(config.adversarial_samples_per_word * n_words / batch))


def alignment_sizes(n_shared: int) -> tuple[int, int]:
    """``(k, held_out)`` for :func:`align` given the words both spaces share: a tenth of them held
    out for the check (1 to 100), the rest (up to 5,000, the paper's "frequent words") for the
    dictionary.

    Examples:
        >>> alignment_sizes(50), alignment_sizes(3000), alignment_sizes(100_000)
        ((45, 5), (2900, 100), (5000, 100))
    """
    if n_shared < 2:
        raise ValueError(f"the Speech2Vec and Word2Vec vocabularies share {n_shared} word(s); the alignment "
                         f"needs at least 2 (one to fit, one to check)")
    held_out = min(100, max(1, n_shared // 10))
    return min(5000, n_shared - held_out), held_out


@dataclass(frozen=True, eq=False)
class SemanticSpace:
    """A fold's trained semantic models (see the module docstring) and its alignment check."""

    word_vectors: dict  # word -> (dim,) Word2Vec vector
    speech2vec: Speech2Vec
    mfcc_mean: np.ndarray  # (n_mfcc,) over the training segments' frames
    mfcc_std: np.ndarray
    matrix: np.ndarray  # W, (dim_t, dim_s), maps unit Speech2Vec vectors into the Word2Vec space
    check: dict  # CHECKS -> float

    def segments(self, mfcc_frames: np.ndarray, spans: Sequence[tuple[float, float]]) -> list[np.ndarray]:
        """The standardised MFCC frames of each span."""
        return [(span_frames(mfcc_frames, start, end) - self.mfcc_mean) / self.mfcc_std for start, end in spans]

    def speech_vectors(self, mfcc_frames: np.ndarray, spans: Sequence[tuple[float, float]], *,
                       aligned: bool) -> np.ndarray:
        """``(len(spans), dim)`` unit Speech2Vec vectors of the spans, mapped by ``W`` if ``aligned``."""
        if not spans:
            return np.zeros((0, self.matrix.shape[0] if aligned else self.speech2vec.dim), dtype=np.float32)
        vectors = unit(embed_segments(self.speech2vec, self.segments(mfcc_frames, spans)))
        return (vectors @ self.matrix.T).astype(np.float32) if aligned else vectors

    def text_vectors(self, words: Sequence[str]) -> np.ndarray:
        """``(len(words), dim)`` unit Word2Vec vectors; zeros for words training never saw."""
        dim = len(next(iter(self.word_vectors.values())))
        rows = [self.word_vectors.get(word, np.zeros(dim, dtype=np.float32)) for word in words]
        return unit(np.asarray(rows, dtype=np.float32).reshape(len(words), dim))


def train_space(utterances: Sequence[SpokenUtterance], config: SemanticConfig = SemanticConfig(), *,
                progress: bool = False) -> SemanticSpace:
    """Train Word2Vec, Speech2Vec and their map on a fold's training utterances.

    Raises:
        ValueError: when no utterance has two word segments (no skip-gram pair), no transcript has
            a word, or the two vocabularies share fewer than two words.
    """
    word_vectors = train_word2vec([u.transcript for u in utterances], config.word2vec, seed=config.seed)
    frames, groups, words = [], [], []
    for utterance in utterances:
        first = len(frames)
        frames += [span_frames(utterance.mfcc, start, end) for start, end in utterance.spans]
        words += utterance.words
        groups.append(list(range(first, len(frames))))
    if not frames:
        raise ValueError("no word segments in the training utterances: Speech2Vec needs word alignments")
    stacked = np.concatenate(frames)
    mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-5
    segments = [(f - mean) / std for f in frames]
    model = train_speech2vec(segments, groups, dim=config.dim, window=config.speech2vec_window,
                             epochs=config.speech2vec_epochs, seed=config.seed, progress=progress)
    vectors = embed_segments(model, segments)
    spoken = [i for i, word in enumerate(words) if word]
    speech_vectors = word_embeddings(vectors[spoken], [words[i] for i in spoken])
    frequencies = Counter(word for u in utterances for word in u.transcript)
    frequencies.update({word: count for word, count in Counter(words[i] for i in spoken).items()
                        if word not in frequencies})
    k, held_out = alignment_sizes(len(set(speech_vectors) & set(word_vectors)))
    steps = adversarial_steps(max(len(speech_vectors), len(word_vectors)), config)
    alignment = align(speech_vectors, word_vectors, frequencies, k=k, held_out=held_out, dictionary=config.dictionary,
                      adversarial=replace(config.adversarial, steps=steps), seed=config.seed)
    check = dict(zip(CHECKS, (alignment.held_out_cosine, alignment.adversarial_cosine, alignment.random_cosine,
                              alignment.accuracy_start, alignment.accuracy_end, alignment.dictionary_precision,
                              float(alignment.n_pairs), float(alignment.n_held_out)), strict=True))
    return SemanticSpace(word_vectors, model, mean.astype(np.float32), std.astype(np.float32),
                         alignment.matrix.astype(np.float32), check)
