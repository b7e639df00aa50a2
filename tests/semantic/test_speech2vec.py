"""Speech2Vec: skip-gram pairs, shapes, masking, training on a synthetic corpus, determinism, errors."""

import numpy as np
import pytest
import torch

from sertext.semantic.speech2vec import (
    Speech2Vec,
    embed_segments,
    masked_mse,
    skipgram_loss,
    skipgram_pairs,
    train_speech2vec,
    word_embeddings,
)


def synthetic_corpus(*, seed=0, n_types=4, n_features=6, n_utterances=8):
    """Word segments with one frame pattern per type (a level plus a ramp) and noise 0.1.

    Utterances follow a cyclic grammar (w0 w1 w2 w3 w0 …, random start, 4-6 words), so a word
    type determines its neighbours' types and the skip-gram objective has something to learn.
    """
    rng = np.random.default_rng(seed)
    level = rng.normal(size=(n_types, n_features))
    slope = rng.normal(size=(n_types, n_features))
    segments, words, utterances = [], [], []
    for _ in range(n_utterances):
        start, ids = rng.integers(n_types), []
        for k in range(rng.integers(4, 7)):
            word = (start + k) % n_types
            ramp = np.linspace(-1, 1, rng.integers(4, 9))[:, None]
            noise = 0.1 * rng.normal(size=(len(ramp), n_features))
            segments.append(level[word] + ramp * slope[word] + noise)
            words.append(f"w{word}")
            ids.append(len(segments) - 1)
        utterances.append(ids)
    return segments, words, utterances


def cosine_same_other(vectors, words):
    """Mean cosine between segments of the same type (self-pairs excluded) and of other types."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit @ unit.T
    labels = np.asarray(words)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    return float(cosine[same & off_diagonal].mean()), float(cosine[~same].mean())


# --- skip-gram pairs -------------------------------------------------------------------------

UTTERANCES = [[5, 2, 7], [0, 3]]  # global segment ids, not in id order


def test_skipgram_pairs_window_1():
    assert skipgram_pairs(UTTERANCES, window=1).tolist() == [[5, 2], [2, 5], [2, 7], [7, 2], [0, 3], [3, 0]]


def test_skipgram_pairs_window_2():
    expected = [[5, 2], [5, 7], [2, 5], [2, 7], [7, 5], [7, 2], [0, 3], [3, 0]]
    assert skipgram_pairs(UTTERANCES, window=2).tolist() == expected


def test_skipgram_pairs_never_cross_an_utterance_boundary():
    utterances = [[0, 1, 2, 3], [4], [5, 6, 7], [], [8, 9]]
    utterance_of = {i: u for u, ids in enumerate(utterances) for i in ids}
    for window in (1, 2, 3, 10):
        pairs = skipgram_pairs(utterances, window=window)
        assert all(utterance_of[a] == utterance_of[b] and a != b for a, b in pairs.tolist())
    # A window wider than every utterance pairs each segment with all others of its utterance.
    assert len(skipgram_pairs(utterances, window=10)) == 4 * 3 + 3 * 2 + 2 * 1
    assert skipgram_pairs([[4], []], window=3).shape == (0, 2)


# --- shapes ----------------------------------------------------------------------------------


def test_shapes_of_encoder_decoder_and_embeddings():
    torch.manual_seed(0)
    model = Speech2Vec(5, dim=7, hidden=4).eval()
    frames = torch.randn(3, 9, 5)
    lengths = torch.tensor([9, 2, 5])
    assert model.encode(frames, lengths).shape == (3, 7)
    assert model.decode(torch.randn(3, 7), 6).shape == (3, 6, 5)
    assert model(frames, lengths, 4).shape == (3, 4, 5)

    segments = [np.ones((n, 5)) for n in (3, 1, 8, 4)]
    vectors = embed_segments(model, segments, batch_size=3)
    assert vectors.shape == (4, 7) and vectors.dtype == np.float32
    by_word = word_embeddings(vectors, ["a", "b", "a", "c"])
    assert list(by_word) == ["a", "b", "c"]
    assert all(v.shape == (7,) for v in by_word.values())
    np.testing.assert_allclose(by_word["a"], vectors[[0, 2]].mean(axis=0))


# --- padding is never read -------------------------------------------------------------------


def test_masked_loss_ignores_padding():
    torch.manual_seed(0)
    prediction, target = torch.randn(2, 6, 3), torch.randn(2, 6, 3)
    lengths = torch.tensor([6, 2])
    loss = masked_mse(prediction, target, lengths)

    changed_prediction, changed_target = prediction.clone(), target.clone()
    changed_prediction[1, 2:] = 50.0
    changed_target[1, 2:] = -50.0
    assert masked_mse(changed_prediction, changed_target, lengths).item() == pytest.approx(loss.item(), rel=1e-6)

    # Reference: plain MSE over the real frames only (8 frames of 3 features).
    real = torch.cat([(prediction[0] - target[0]) ** 2, (prediction[1, :2] - target[1, :2]) ** 2])
    assert loss.item() == pytest.approx(real.mean().item(), rel=1e-6)


def test_encoder_ignores_padding_and_batching():
    torch.manual_seed(0)
    model = Speech2Vec(3, dim=4, hidden=5).eval()
    segments = [np.random.default_rng(i).normal(size=(n, 3)) for i, n in enumerate((2, 7, 4))]
    batched = embed_segments(model, segments, batch_size=3)  # padded to 7 frames with zeros
    one_by_one = np.concatenate([embed_segments(model, [s], batch_size=1) for s in segments])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)

    frames = torch.zeros(1, 9, 3)
    frames[0, :2] = torch.as_tensor(segments[0], dtype=torch.float32)
    frames[0, 2:] = 99.0  # padding with other values
    with torch.no_grad():
        vector = model.encode(frames, torch.tensor([2]))
    np.testing.assert_allclose(vector.numpy()[0], batched[0], atol=1e-6)


def test_decoder_prefix_does_not_depend_on_target_length():
    """Decoding to a batch's longest target and masking the rest is exact for shorter targets."""
    torch.manual_seed(0)
    model = Speech2Vec(3, dim=4).eval()
    vectors = torch.randn(2, 4)
    with torch.no_grad():
        np.testing.assert_allclose(model.decode(vectors, 8)[:, :3].numpy(), model.decode(vectors, 3).numpy(), atol=1e-6)


# --- training --------------------------------------------------------------------------------

SMALL = dict(dim=8, hidden=16, window=1, batch_size=16, lr=1e-2, seed=0)


def test_training_lowers_the_loss_and_separates_word_types():
    segments, words, utterances = synthetic_corpus()
    untrained = train_speech2vec(segments, utterances, epochs=0, **SMALL)
    trained = train_speech2vec(segments, utterances, epochs=8, **SMALL)

    before = skipgram_loss(untrained, segments, utterances, window=1)
    after = skipgram_loss(trained, segments, utterances, window=1)
    assert after < 0.7 * before  # measured: 1.150 → 0.682 (seeds 1, 2: ratios 0.48, 0.60)

    same_before, other_before = cosine_same_other(embed_segments(untrained, segments), words)
    same_after, other_after = cosine_same_other(embed_segments(trained, segments), words)
    # Measured: same-type 0.998 vs other-type 0.689 before, 1.000 vs 0.164 after.  The same-type
    # cosine is high even untrained (the encoder is smooth and same-type frames are alike), so the
    # test asks for the gap to widen.  Seeds 1 and 2 give gaps 0.24 → 0.49 and 0.53 → 0.85.
    assert same_after - other_after > 0.4
    assert same_after - other_after > (same_before - other_before) + 0.2

    # A word type's mean vector is the nearest (cosine) to its own segments' vectors.
    vectors = embed_segments(trained, segments)
    by_word = word_embeddings(vectors, words)
    types = list(by_word)
    centroids = np.stack([by_word[w] for w in types])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    nearest = np.argmax(unit @ (centroids / np.linalg.norm(centroids, axis=1, keepdims=True)).T, axis=1)
    assert np.mean([types[i] == word for i, word in zip(nearest, words, strict=True)]) >= 0.9  # measured: 1.0


def test_same_seed_gives_identical_embeddings():
    segments, _, utterances = synthetic_corpus(n_utterances=3)
    torch.manual_seed(123)  # the global RNG differs between the two runs: only `seed` counts
    first = embed_segments(train_speech2vec(segments, utterances, epochs=2, **SMALL), segments)
    torch.manual_seed(456)
    rng_state = torch.random.get_rng_state()
    second = embed_segments(train_speech2vec(segments, utterances, epochs=2, **SMALL), segments)
    other = embed_segments(train_speech2vec(segments, utterances, epochs=2, **{**SMALL, "seed": 1}), segments)
    assert np.array_equal(first, second)
    assert not np.allclose(first, other)
    assert torch.equal(torch.random.get_rng_state(), rng_state)  # the global RNG is left alone


def test_max_frames_cuts_segments():
    segments, _, utterances = synthetic_corpus(n_utterances=3)
    model = train_speech2vec(segments, utterances, epochs=0, **SMALL)
    cut = embed_segments(model, segments, max_frames=2)
    np.testing.assert_allclose(cut, embed_segments(model, [s[:2] for s in segments]), atol=1e-6)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segments", "utterances", "window", "message"),
    [
        ([np.ones((3, 2)), np.ones((0, 2))], [[0, 1]], 1, r"segment 1 is empty"),
        ([np.ones((3, 2)), np.ones((4, 5))], [[0, 1]], 1, r"segment 1 has 5 features, segment 0 .* has 2"),
        ([np.ones((3, 2)), np.ones(4)], [[0, 1]], 1, r"segment 1 has shape \(4,\)"),
        ([np.ones((3, 2)), np.full((2, 2), np.nan)], [[0, 1]], 1, r"segment 1 has non-finite"),
        ([np.ones((3, 2))] * 2, [[0, 1]], 0, r"window must be an integer >= 1, got 0"),
        ([np.ones((3, 2))] * 2, [[0, 1], [2]], 1, r"utterance 1 names segment 2, outside 0\.\.1"),
        ([np.ones((3, 2))] * 2, [[-1, 1]], 1, r"utterance 0 names segment -1"),
        ([np.ones((3, 2))] * 2, [[0], [1]], 1, r"no skip-gram pairs"),
        ([], [], 1, r"no segments"),
    ],
)
def test_bad_training_input_is_named(segments, utterances, window, message):
    with pytest.raises(ValueError, match=message):
        train_speech2vec(segments, utterances, window=window, epochs=0, dim=2)


def test_bad_input_elsewhere_is_named():
    model = Speech2Vec(3, dim=2)
    with pytest.raises(ValueError, match=r"segment 0 has 4 features, .* has 3"):
        embed_segments(model, [np.ones((2, 4))])
    with pytest.raises(ValueError, match=r"frames have 4 features, the model expects 3"):
        model.encode(torch.ones(1, 2, 4), torch.tensor([2]))
    with pytest.raises(ValueError, match=r"window must be an integer >= 1, got 1.5"):
        skipgram_pairs([[0, 1]], window=1.5)
    with pytest.raises(ValueError, match=r"one word per vector: \(3, 2\) vectors, 2 words"):
        word_embeddings(np.zeros((3, 2)), ["a", "b"])
    with pytest.raises(ValueError, match=r"dim must be >= 1, got 0"):
        Speech2Vec(3, dim=0)
