"""Word2Vec through gensim: every word gets a vector, deterministic per seed, errors named."""

import numpy as np
import pytest

from sertext.semantic.word2vec import Word2VecConfig, train_word2vec

SENTENCES = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat", "ran"], []] * 20


def test_every_word_gets_a_vector_of_the_configured_size_most_frequent_first():
    vectors = train_word2vec(SENTENCES, Word2VecConfig(dim=8, epochs=2))
    assert set(vectors) == {"the", "cat", "sat", "dog", "a", "ran"}
    assert next(iter(vectors)) in ("the", "cat", "sat")  # 40 occurrences each
    assert all(v.shape == (8,) and v.dtype == np.float32 and np.isfinite(v).all() for v in vectors.values())


def test_a_seed_gives_the_same_vectors_and_another_seed_others():
    config = Word2VecConfig(dim=8, epochs=2)
    first, again = train_word2vec(SENTENCES, config, seed=1), train_word2vec(SENTENCES, config, seed=1)
    assert all(np.array_equal(first[w], again[w]) for w in first)
    other = train_word2vec(SENTENCES, config, seed=2)
    assert not np.array_equal(first["cat"], other["cat"])


def test_words_in_the_same_contexts_end_up_closer_than_words_in_others():
    """'cat' and 'dog' share every context; 'red' and 'blue' share theirs, never a cat's."""
    rng = np.random.default_rng(0)
    sentences = [["the", str(rng.choice(["cat", "dog"])), "sat", "on", "mats"] for _ in range(300)] + \
                [["paint", str(rng.choice(["red", "blue"])), "walls", "now", "please"] for _ in range(300)]
    vectors = train_word2vec(sentences, Word2VecConfig(dim=16, window=2, epochs=20))

    def cosine(a, b):
        return float(vectors[a] @ vectors[b] / np.linalg.norm(vectors[a]) / np.linalg.norm(vectors[b]))

    assert cosine("cat", "dog") > cosine("cat", "red")
    assert cosine("red", "blue") > cosine("blue", "dog")


def test_no_words_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="every transcript is empty"):
        train_word2vec([[], []])
    with pytest.raises(ValueError, match="word2vec epochs must be >= 1"):
        Word2VecConfig(epochs=0)
