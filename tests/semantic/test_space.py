"""A fold's semantic space: MFCCs as librosa computes them, word segments' frames, training on
synthetic utterances, the three kinds of vectors."""

import librosa
import numpy as np
import pytest

from sertext.semantic.alignment import AdversarialConfig
from sertext.semantic.space import (
    CHECKS,
    SemanticConfig,
    SpokenUtterance,
    alignment_sizes,
    mfcc,
    span_frames,
    train_space,
)
from sertext.semantic.word2vec import Word2VecConfig

TINY = SemanticConfig(dim=8, word2vec=Word2VecConfig(epochs=2), speech2vec_epochs=2,
                      adversarial=AdversarialConfig(steps=20, warmup_steps=5, hidden=16))
WORDS = ("yes", "no", "maybe", "never", "always", "sometimes")


def utterances(n=12, seed=0):
    """Utterances of 3-5 words in a cyclic grammar; each word's frames a level per word type."""
    rng = np.random.default_rng(seed)
    levels = rng.normal(size=(len(WORDS), 13))
    out = []
    for _ in range(n):
        start = int(rng.integers(len(WORDS)))
        words = [WORDS[(start + k) % len(WORDS)] for k in range(int(rng.integers(3, 6)))]
        frames, spans, t = [], [], 0.0
        for word in words:
            length = int(rng.integers(8, 20))
            frames.append(levels[WORDS.index(word)] + 0.1 * rng.normal(size=(length, 13)))
            spans.append((t, t + length * 0.01))
            t += length * 0.01
        out.append(SpokenUtterance(np.concatenate(frames).astype(np.float32), tuple(spans), tuple(words),
                                   tuple(words)))
    return out


def test_mfccs_are_librosas_of_the_same_log_mel_spectrogram():
    log_mel = np.random.default_rng(0).normal(-40, 10, size=(50, 64)).astype(np.float32)
    expected = librosa.feature.mfcc(S=log_mel.T, n_mfcc=13, dct_type=2, norm="ortho").T
    np.testing.assert_allclose(mfcc(log_mel, 13), expected, rtol=1e-4, atol=1e-3)


def test_a_span_gets_the_frames_centred_inside_it_and_at_least_one():
    frames = np.arange(20.0)[:, None]
    assert span_frames(frames, 0.0, 0.03).ravel().tolist() == [0.0, 1.0, 2.0]
    assert span_frames(frames, 0.185, 0.5).ravel().tolist() == [19.0]  # cut at the end of the frames
    assert span_frames(frames, 0.3, 0.4).ravel().tolist() == [19.0]  # past the end: the last frame


def test_alignment_sizes_hold_out_a_tenth_and_need_two_shared_words():
    assert alignment_sizes(2) == (1, 1) and alignment_sizes(1000) == (900, 100)
    with pytest.raises(ValueError, match="share 1 word"):
        alignment_sizes(1)


@pytest.mark.slow
def test_a_trained_space_gives_unit_vectors_of_each_kind_and_zeros_for_unseen_words():
    space = train_space(utterances(), TINY)
    assert set(space.word_vectors) == set(WORDS) and set(space.check) == set(CHECKS)
    assert space.matrix.shape == (8, 8) and -1 <= space.check["aligned_cosine"] <= 1
    probe = utterances(1, seed=5)[0]
    speech = space.speech_vectors(probe.mfcc, probe.spans, aligned=False)
    aligned = space.speech_vectors(probe.mfcc, probe.spans, aligned=True)
    assert speech.shape == aligned.shape == (len(probe.spans), 8)
    np.testing.assert_allclose(np.linalg.norm(speech, axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(aligned, speech @ space.matrix.T, rtol=1e-5, atol=1e-6)
    text = space.text_vectors(["yes", "unheard"])
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), [1, 0], atol=1e-6)
    assert space.speech_vectors(probe.mfcc, [], aligned=True).shape == (0, 8)


def test_training_without_word_segments_is_refused():
    empty = [SpokenUtterance(np.zeros((5, 13), np.float32), (), (), ("hello", "there"))]
    with pytest.raises(ValueError, match="no word segments"):
        train_space(empty, TINY)
