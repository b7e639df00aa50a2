"""sertext.semantic.alignment on synthetic spaces where the true map is known.

Speech vectors are random, non-isotropic; text vectors are a known rotation of them (plus noise
where said).  The adversarial tests use clustered points and a rotation of 1 radian about a random
plane mix: large enough that identity is clearly wrong, small enough that a few hundred updates
(what a CPU test affords) suffice; MUSE needs far more updates for arbitrary rotations.  The
induced-dictionary tests use a rotation of 2.5 radians, where the identity is too far off for the
induced refinement to recover but the adversarial proxy is close enough.
"""

import numpy as np
import pytest
import torch
from scipy.linalg import expm, orthogonal_procrustes

from sertext.semantic.alignment import (
    AdversarialConfig,
    adversarial_map,
    align,
    csls,
    mean_cosine,
    mutual_nearest_neighbours,
    procrustes,
    random_orthogonal,
)

TINY = AdversarialConfig(steps=20, warmup_steps=10, dis_steps=1, hidden=16, batch_size=32)
GAME = AdversarialConfig(steps=300, dis_steps=2, warmup_steps=100, hidden=64, batch_size=64, beta=0.01)
NO_GAME = AdversarialConfig(steps=0, warmup_steps=0, hidden=4)  # the proxy is the initial map: identity
RANDOM_START = AdversarialConfig(steps=0, warmup_steps=0, hidden=4, init="random")


def _anisotropic(rng, n, d):
    return rng.standard_normal((n, d)) * np.linspace(0.3, 1.5, d)


def _rotation(rng, d, angle):
    """exp of a random skew-symmetric matrix with spectral norm ``angle`` (radians)."""
    a = rng.standard_normal((d, d))
    a = (a - a.T) / 2
    return expm(a * angle / np.linalg.norm(a, 2))


def _words(rng, n, d_s, d_t, *, noise):
    """Speech and text dicts where text = Q·speech + noise, and Zipf-like frequencies."""
    speech = _anisotropic(rng, n, d_s) + 0.5  # off-centre, like real embeddings
    q = random_orthogonal(d_t, d_s, rng=rng)
    text = speech @ q.T + noise * rng.standard_normal((n, d_t))
    names = [f"w{i:03d}" for i in range(n)]
    frequencies = {name: int(1000 / (i + 1)) + 1 for i, name in enumerate(names)}
    return dict(zip(names, speech, strict=True)), dict(zip(names, text, strict=True)), frequencies, q


# Procrustes


@pytest.mark.parametrize("d_s, d_t", [(16, 16), (12, 20), (20, 12)])
def test_procrustes_recovers_a_known_map_exactly(d_s, d_t):
    rng = np.random.default_rng(1)
    q = random_orthogonal(d_t, d_s, rng=rng)
    source = _anisotropic(rng, 100, d_s)
    if d_t < d_s:  # a projection loses the dropped directions: give the source none
        source = source @ q.T @ q
    target = source @ q.T  # t_i = Q s_i
    np.testing.assert_allclose(procrustes(source, target), q, atol=1e-6)


def test_procrustes_matches_scipy_transposed():
    rng = np.random.default_rng(2)
    source, target = rng.standard_normal((50, 8)), rng.standard_normal((50, 8))
    np.testing.assert_allclose(procrustes(source, target), orthogonal_procrustes(source, target)[0].T, atol=1e-10)


def test_procrustes_with_noise_is_orthogonal_optimal_and_beats_random():
    rng = np.random.default_rng(3)
    d = 20
    q = random_orthogonal(d, d, rng=rng)
    source = _anisotropic(rng, 200, d)
    target = source @ q.T + 0.3 * rng.standard_normal((200, d))
    w = procrustes(source, target)

    def residual(m):
        return np.linalg.norm(source @ m.T - target)

    np.testing.assert_allclose(w @ w.T, np.eye(d), atol=1e-10)
    assert residual(w) <= residual(q) + 1e-9  # optimal among orthogonal maps, the true one included
    assert residual(w) < 0.5 * residual(random_orthogonal(d, d, rng=rng))
    assert np.linalg.norm(w - q) < 0.5
    assert mean_cosine(w, source, target) > 0.9


@pytest.mark.parametrize(
    "source, target, match",
    [
        (np.ones((3, 2)), np.ones((4, 2)), "same words"),
        (np.ones(3), np.ones(3), "2-D"),
        (np.zeros((0, 2)), np.zeros((0, 2)), "non-empty"),
        (np.array([[np.nan, 1.0]]), np.ones((1, 2)), "non-finite"),
    ],
)
def test_procrustes_rejects_bad_input(source, target, match):
    with pytest.raises(ValueError, match=match):
        procrustes(source, target)


def test_random_orthogonal_shapes():
    rng = np.random.default_rng(4)
    tall, wide = random_orthogonal(6, 4, rng=rng), random_orthogonal(4, 6, rng=rng)
    np.testing.assert_allclose(tall.T @ tall, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(wide @ wide.T, np.eye(4), atol=1e-12)


# Adversarial map


def _clustered_rotation(seed, d=12, n=2000):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((6, d))
    source = centres[rng.integers(6, size=n)] + 0.3 * rng.standard_normal((n, d))
    q = _rotation(rng, d, 1.0)
    return source, source @ q.T, q


def _mismatch(a, b):
    """Distance between the first two moments of two point clouds."""
    return np.linalg.norm(a.mean(0) - b.mean(0)) + np.linalg.norm(np.cov(a.T) - np.cov(b.T))


@pytest.mark.slow
def test_adversarial_map_fools_the_discriminator_and_matches_the_distributions():
    source, target, q = _clustered_rotation(seed=2)
    result = adversarial_map(source, target, config=GAME, seed=2)
    w = result.matrix
    assert result.accuracy_start > 0.75  # identity: the rotated clusters are easy to tell apart
    assert abs(result.accuracy_end - 0.5) < 0.1  # near chance
    assert result.accuracy_end < result.accuracy_start - 0.2
    assert _mismatch(source @ w.T, target) < 0.4 * _mismatch(source, target)
    assert np.linalg.norm(w - q) < 0.8 * np.linalg.norm(np.eye(len(q)) - q)
    np.testing.assert_allclose(w @ w.T, np.eye(len(q)), atol=0.2)  # kept near orthogonal


def test_adversarial_map_is_deterministic_and_leaves_global_rng_alone():
    rng = np.random.default_rng(5)
    source, target = rng.standard_normal((40, 4)), rng.standard_normal((30, 6))
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = adversarial_map(source, target, config=TINY, seed=7)
    assert torch.equal(torch.rand(1), expected_next)
    second = adversarial_map(source, target, config=TINY, seed=7)
    other = adversarial_map(source, target, config=TINY, seed=8)
    assert first.matrix.shape == (6, 4)
    np.testing.assert_array_equal(first.matrix, second.matrix)
    assert (first.accuracy_start, first.accuracy_end) == (second.accuracy_start, second.accuracy_end)
    assert not np.array_equal(first.matrix, other.matrix)


def test_adversarial_map_random_init_is_orthogonal_before_training():
    rng = np.random.default_rng(6)
    source = rng.standard_normal((20, 5))
    config = AdversarialConfig(steps=0, warmup_steps=0, hidden=4, init="random")
    w = adversarial_map(source, source, config=config, seed=1).matrix
    np.testing.assert_allclose(w @ w.T, np.eye(5), atol=1e-6)
    assert not np.allclose(w, np.eye(5))


@pytest.mark.parametrize(
    "settings, match",
    [({"steps": -1}, "steps"), ({"batch_size": 0}, "batch_size"), ({"lr_map": 0.0}, "lr_map"),
     ({"input_dropout": 1.0}, "dropout"), ({"smoothing": 0.5}, "smoothing"), ({"init": "eye"}, "init")],
)
def test_adversarial_config_rejects_bad_settings(settings, match):
    with pytest.raises(ValueError, match=match):
        AdversarialConfig(**settings)


# CSLS and the mutual-nearest-neighbour dictionary


def test_csls_matches_a_brute_force_computation():
    rng = np.random.default_rng(11)
    mapped, target = rng.standard_normal((5, 3)), 3 * rng.standard_normal((7, 3))  # scale must not matter
    k = 2
    cos = np.array([[x @ y / np.linalg.norm(x) / np.linalg.norm(y) for y in target] for x in mapped])
    expected = np.empty((5, 7))
    for i in range(5):
        for j in range(7):
            r_target = np.mean(sorted(cos[i, :], reverse=True)[:k])  # x_i's k nearest targets
            r_mapped = np.mean(sorted(cos[:, j], reverse=True)[:k])  # y_j's k nearest mapped rows
            expected[i, j] = 2 * cos[i, j] - r_target - r_mapped
    np.testing.assert_allclose(csls(mapped, target, k=k), expected, atol=1e-12)
    # k beyond the row counts averages over all rows
    full = 2 * cos - cos.mean(axis=1, keepdims=True) - cos.mean(axis=0, keepdims=True)
    np.testing.assert_allclose(csls(mapped, target, k=100), full, atol=1e-12)


def test_csls_rejects_bad_input():
    with pytest.raises(ValueError, match="k must be >= 1"):
        csls(np.eye(2), np.eye(2), k=0)
    with pytest.raises(ValueError, match="same width"):
        csls(np.eye(2), np.eye(3))


def test_mutual_nearest_neighbours_on_a_hand_example():
    similarity = np.array([
        [0.9, 0.2, 0.1, 0.0],  # row 0 -> column 0, column 0's best is row 0: a pair
        [0.8, 0.3, 0.0, 0.1],  # row 1 -> column 0, taken by row 0: no pair
        [0.1, 0.7, 0.2, 0.6],  # row 2 -> column 1, column 1's best is row 2: a pair
        [0.0, 0.5, 0.1, 0.4],  # row 3 -> column 1, taken by row 2: no pair (column 3 prefers row 2 too)
    ])
    np.testing.assert_array_equal(mutual_nearest_neighbours(similarity), [[0, 0], [2, 1]])
    np.testing.assert_array_equal(mutual_nearest_neighbours(similarity.T), [[0, 0], [1, 2]])
    np.testing.assert_array_equal(mutual_nearest_neighbours(np.ones((2, 3))), [[0, 0]])  # ties: lowest index


# align


def _clustered_words(seed, *, n=300, d=24, angle=2.5, noise=0.02):
    """Unit speech vectors around 6 centres; text = rotation by ``angle`` + noise; Zipf-like counts."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((6, d))
    speech = centres[rng.integers(6, size=n)] + 0.3 * rng.standard_normal((n, d))
    speech /= np.linalg.norm(speech, axis=1, keepdims=True)
    text = speech @ _rotation(rng, d, angle).T + noise * rng.standard_normal((n, d))
    names = [f"w{i:03d}" for i in range(n)]
    frequencies = {name: int(1000 / (i + 1)) + 1 for i, name in enumerate(names)}
    return dict(zip(names, speech, strict=True)), dict(zip(names, text, strict=True)), frequencies


def test_induced_dictionary_recovers_the_map_from_the_adversarial_proxy_only():
    speech, text, frequencies = _clustered_words(0)

    def run(config, dictionary="induced"):
        return align(speech, text, frequencies, k=150, held_out=50, adversarial=config, dictionary=dictionary)

    game, identity, random = run(GAME), run(NO_GAME), run(RANDOM_START)
    for result in (game, identity, random):
        assert result.dictionary == "induced" and len(result.dictionary_sizes) == 5
        assert len(result.dictionary_precisions) == 5 and result.n_pairs == result.dictionary_sizes[-1]
        assert result.dictionary_precision == np.mean([s == t for s, t in result.dictionary_pairs])
        assert not {w for pair in result.dictionary_pairs for w in pair} & set(result.held_out_words)
    # the adversarial proxy is closer than the identity, close enough for the dictionary to converge
    assert game.adversarial_cosine > identity.adversarial_cosine + 0.2
    assert game.dictionary_precision > 0.9 and game.n_pairs > 140
    assert game.held_out_cosine > 0.9
    # without the game (identity or random start) the induced pairs stay mostly wrong
    for unaided in (identity, random):
        assert unaided.dictionary_precision < 0.5
        assert unaided.held_out_cosine < game.held_out_cosine - 0.2
    # the supervised shortcut recovers the map whatever the proxy
    known, known_random = run(NO_GAME, "shared_words"), run(RANDOM_START, "shared_words")
    np.testing.assert_array_equal(known.matrix, known_random.matrix)
    assert known.held_out_cosine > 0.99 and known.dictionary_precisions == (1.0,)
    assert known.dictionary_sizes == (150,) and known.dictionary_pairs == tuple((w, w) for w in known.pair_words)
    assert "induced" in game.summary() and f"{game.dictionary_precision:.3f}" in game.summary()


def test_induced_candidates_are_each_space_s_most_frequent_words_without_held_out_ones():
    speech, text, frequencies = _clustered_words(1, n=60, d=8, angle=0.0, noise=0.0)
    speech["only_speech"], text["only_text"] = speech["w000"], text["w000"]  # frequent, not shared
    frequencies |= {"only_speech": 10**6, "only_text": 10**6}
    result = align(speech, text, frequencies, k=20, held_out=10, adversarial=NO_GAME, seed=3)
    counted = sorted(frequencies, key=lambda w: -frequencies[w])
    top_speech = [w for w in counted if w in speech and w not in result.held_out_words][:20]
    top_text = [w for w in counted if w in text and w not in result.held_out_words][:20]
    assert "only_speech" in top_speech and "only_text" in top_text
    speech_used = {s for s, _ in result.dictionary_pairs}
    text_used = {t for _, t in result.dictionary_pairs}
    assert speech_used <= set(top_speech) and text_used <= set(top_text)
    # the identity is the true map here: every shared candidate pairs with itself; the two
    # non-shared copies of w000 compete with it, so at most one of the three pairs
    assert result.n_pairs >= 18 and sum(s != t for s, t in result.dictionary_pairs) <= 1
    assert result.held_out_cosine > 0.99


def test_induced_refinement_handles_different_dimensions():
    speech, text, frequencies, _ = _words(np.random.default_rng(12), 80, 6, 10, noise=0.0)
    result = align(speech, text, frequencies, k=30, held_out=10, adversarial=TINY, refinements=2, csls_k=5)
    assert result.matrix.shape == (10, 6) and len(result.dictionary_sizes) == 2
    np.testing.assert_allclose(result.matrix.T @ result.matrix, np.eye(6), atol=1e-10)


def test_align_maps_held_out_words_well_and_a_random_map_does_not():
    speech, text, frequencies, _ = _words(np.random.default_rng(7), 400, 32, 32, noise=0.05)
    result = align(speech, text, frequencies, k=100, held_out=50, adversarial=TINY, seed=0,
                   dictionary="shared_words")
    assert result.matrix.shape == (32, 32)
    assert (result.n_pairs, result.n_held_out) == (100, 50)
    assert result.held_out_cosine > 0.9
    assert abs(result.random_cosine) < 0.2
    assert 0 <= result.accuracy_start <= 1 and 0 <= result.accuracy_end <= 1


def test_align_uses_the_most_frequent_shared_words_and_keeps_held_out_words_apart():
    speech, text, frequencies, _ = _words(np.random.default_rng(8), 120, 8, 8, noise=0.05)
    speech["only_speech"], text["only_text"] = np.ones(8), np.ones(8)
    frequencies |= {"only_speech": 10**6, "only_text": 10**6}  # frequent, but not shared
    result = align(speech, text, frequencies, k=30, held_out=10, adversarial=TINY, seed=1)
    expected = sorted((w for w in speech if w in text), key=lambda w: -frequencies[w])[:40]
    assert not set(result.pair_words) & set(result.held_out_words)
    assert set(result.pair_words) | set(result.held_out_words) == set(expected)
    assert list(result.pair_words) == [w for w in expected if w in result.pair_words]  # most frequent first


@pytest.mark.parametrize("dictionary", ["induced", "shared_words"])
def test_held_out_words_do_not_influence_the_map(dictionary):
    rng = np.random.default_rng(9)
    speech, text, frequencies, _ = _words(rng, 150, 10, 10, noise=0.05)
    clean = align(speech, text, frequencies, k=40, held_out=15, adversarial=TINY, seed=2, dictionary=dictionary)
    garbage = dict(text) | {w: 100 * rng.standard_normal(10) for w in clean.held_out_words}
    spoiled = align(speech, garbage, frequencies, k=40, held_out=15, adversarial=TINY, seed=2, dictionary=dictionary)
    assert spoiled.held_out_words == clean.held_out_words and spoiled.pair_words == clean.pair_words
    assert spoiled.dictionary_pairs == clean.dictionary_pairs
    np.testing.assert_array_equal(spoiled.matrix, clean.matrix)
    np.testing.assert_array_equal(spoiled.adversarial_matrix, clean.adversarial_matrix)
    assert spoiled.held_out_cosine != clean.held_out_cosine  # the check does read the held-out words
    if dictionary == "shared_words":  # the induced one fails from this proxy (a random rotation)
        assert spoiled.held_out_cosine < 0.5 < clean.held_out_cosine


def test_align_handles_different_dimensions():
    speech, text, frequencies, q = _words(np.random.default_rng(10), 200, 12, 20, noise=0.0)
    result = align(speech, text, frequencies, k=50, held_out=20, adversarial=TINY, normalise=False,
                   dictionary="shared_words")
    assert result.matrix.shape == result.adversarial_matrix.shape == (20, 12)
    np.testing.assert_allclose(result.matrix, q, atol=1e-6)
    assert result.held_out_cosine == pytest.approx(1.0)
    np.testing.assert_allclose(result.transform(speech["w000"]), text["w000"], atol=1e-6)


def _bad_inputs():
    good = {"a": np.ones(3), "b": np.arange(3.0), "c": -np.ones(3)}
    frequencies = {"a": 3, "b": 2, "c": 1}
    return [
        ({}, good, frequencies, {}, "speech_vectors is empty"),
        (good, good | {"d": np.ones(4)}, frequencies | {"d": 1}, {}, "mixes vector shapes"),
        (good | {"a": np.ones((3, 1))}, good, frequencies, {}, "1-D"),
        (good | {"a": np.array([np.inf, 0.0, 0.0])}, good, frequencies, {}, "non-finite"),
        (good, good, {"a": 3}, {}, "frequencies lacks 2"),
        (good, good, frequencies, {"k": 0}, "k >= 1"),
        (good, good, frequencies, {"held_out": 0}, "held_out >= 1"),
        (good, good, frequencies, {"k": 3}, "share 3 word"),
        (good, good, frequencies, {"dictionary": "mutual"}, "dictionary must be one of"),
        (good, good, frequencies, {"refinements": 0}, "refinements >= 1"),
        (good, good, frequencies, {"csls_k": 0}, "csls_k >= 1"),
    ]


@pytest.mark.parametrize("speech, text, frequencies, options, match", _bad_inputs())
def test_align_rejects_bad_input(speech, text, frequencies, options, match):
    with pytest.raises(ValueError, match=match):
        align(speech, text, frequencies, **({"k": 2, "held_out": 1, "adversarial": TINY} | options))
