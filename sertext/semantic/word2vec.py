"""Word2Vec (Mikolov et al., 2013) trained on a corpus's transcripts with gensim: the text space that
Tzirakis et al. (ICASSP 2021, §3.1) align Speech2Vec onto, and their Table 2's Word2Vec row.

Skip-gram with negative sampling, gensim's implementation.  The paper trains Word2Vec but gives no
settings; sertext uses skip-gram (as Speech2Vec, whose space it is aligned with), 100 dimensions
(the public code's word vectors), gensim's window of 5 and 5 negative samples, every word kept
(``min_count`` 1: corpus vocabularies are small, and a word without a vector would be a zero frame)
and more epochs than gensim's 5, since an emotion corpus's transcripts are tiny for Word2Vec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Word2VecConfig:
    """Settings of :func:`train_word2vec` (see the module docstring for why these)."""

    dim: int = 100
    window: int = 5
    negative: int = 5
    epochs: int = 50
    min_count: int = 1

    def __post_init__(self) -> None:
        for name in ("dim", "window", "epochs", "min_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"word2vec {name} must be >= 1, got {getattr(self, name)}")


def train_word2vec(sentences: Sequence[Sequence[str]], config: Word2VecConfig = Word2VecConfig(), *,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Skip-gram Word2Vec vectors of every word in ``sentences`` (one thread, so a seed gives the
    same vectors on every run).

    Args:
        sentences: tokenised transcripts, e.g. :func:`sertext.features.words.transcript_words` of each.
        config: the training settings.
        seed: gensim's seed (initial vectors and sampling).

    Returns:
        Word → ``(dim,)`` float32 vector, most frequent word first.

    Raises:
        ValueError: if no sentence holds a word.
    """
    from gensim.models import Word2Vec

    corpus = [list(sentence) for sentence in sentences if len(sentence)]
    if not corpus:
        raise ValueError("no words to train Word2Vec on: every transcript is empty")
    model = Word2Vec(corpus, vector_size=config.dim, window=config.window, negative=config.negative,
                     epochs=config.epochs, min_count=config.min_count, sg=1, workers=1, seed=seed)
    return {word: model.wv[word].astype(np.float32) for word in model.wv.index_to_key}
