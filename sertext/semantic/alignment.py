"""Map Speech2Vec vectors onto a Word2Vec space: an adversarial linear map refined by Procrustes.

Tzirakis et al. (ICASSP 2021, §3.1, after Chung et al., NeurIPS 2018) learn a linear map
``W`` (``d_t × d_s``) so that ``W·s``, for a word's Speech2Vec vector ``s``, lies near the same
word's Word2Vec vector ``t``; at evaluation only speech is needed.  This module implements it:

* :func:`adversarial_map`: the initial proxy of ``W`` by domain-adversarial training (Eq. 1-2).
  A discriminator learns to tell mapped speech vectors ``W·s`` (label 1, "speech") from text
  vectors ``t`` (label 0); ``W`` is trained to make it answer the opposite label.
* :func:`procrustes`: the refinement (Eq. 3), the orthogonal ``W`` minimising ``‖W·S_r − T_r‖_F``
  over ``k`` paired words, in closed form from one SVD.
* :func:`csls` and :func:`mutual_nearest_neighbours`: the dictionary that pairs the rows of
  ``S_r`` and ``T_r``, induced from the current map (MUSE's cross-domain similarity local scaling).
* :func:`align`: all steps on word-vector dictionaries, with a held-out check: the mean cosine of
  ``W·s`` and ``t`` over frequent shared words that no step saw, against a random orthogonal map.

Where this follows the paper: the two objectives (Eq. 1-2), the map's shape ``d_t × d_s``, the
refinement on the ``k`` most frequent words (Eq. 3).

The refinement's dictionary, :func:`align`'s ``dictionary`` option.  The paper "uses the frequent
words to create a dictionary that specifies which speech embedding vectors correspond to which text
embedding vectors" and defers to Chung et al., who follow MUSE: the dictionary is induced from the
current map, not read from the transcripts.

* ``"induced"`` (default; the paper's, via Chung et al. and MUSE): take the ``k`` most frequent
  words of each space, map the speech ones with the current ``W``, and pair speech word ``i`` with
  text word ``j`` when each is the other's best match by CSLS (``K = 10`` neighbours); solve
  Procrustes on those pairs; repeat from the new ``W``, ``refinements`` times (MUSE: 5).  The first
  dictionary comes from the adversarial proxy, so the refined map depends on it: from a poor proxy
  the induced pairs are mostly wrong and refinement cannot recover.  Which word a vector stands for
  is used only to score the result: the precision of each dictionary (the fraction of its pairs
  that are the same word) and the held-out check.
* ``"shared_words"``: a supervised shortcut.  Here a word's Speech2Vec vector comes from its
  transcribed segments, so both vocabularies share their words and the true pairs are known: pair
  each of the ``k`` most frequent shared words with itself and solve Procrustes once (with a fixed
  dictionary one solve is already the fixed point).  The refined ``W`` then does not depend on the
  adversarial proxy, which is still computed and reported (:attr:`Alignment.adversarial_cosine`,
  the discriminator accuracies) as a check that the two spaces are alignable without supervision.

Where this follows MUSE (Conneau et al., ICLR 2018, "Word translation without parallel data", and
its code), for what the paper leaves out: a discriminator of two hidden layers (2048 units, LeakyReLU
0.2, dropout 0.1 on its input only), label smoothing 0.1, 5 discriminator updates per map update,
batches of 32 per space, plain SGD at lr 0.1 for both players, the map initialised as the identity,
and after every map update the orthogonalisation ``W ← (1 + β)W − β(W Wᵀ)W`` with ``β = 0.001``;
the induced dictionary (mutual nearest neighbours by CSLS with ``K = 10``, 5 refinement iterations).
The Procrustes orientation is MUSE's: with words as rows, ``U Σ Vᵀ = SVD(T_rᵀ S_r)`` and
``W = U Vᵀ``.  The paper writes ``SVD(S_r T_rᵀ)``; read with words as columns that matrix is the
transpose of ours, so ``U Vᵀ`` from it would map text onto speech, the inverse of what is wanted.

Deviations, and why:

* The induced dictionary's candidates are the ``k`` most frequent words of each space, ranked by
  the one ``frequencies`` table (words without a count are never candidates), and the CSLS
  neighbourhoods are taken among those candidates.  MUSE keeps mutual neighbours whose ranks are
  both within ``dico_max_rank`` (15000) but averages the CSLS neighbourhoods over whole vocabularies.
* ``"shared_words"`` is ours (see above); ``"induced"`` is the paper's.
* The discriminator first trains alone for ``warmup_steps`` with the map frozen, so that
  ``accuracy_start`` measures how well the unmapped spaces can be told apart (MUSE has no warm-up).
* No learning-rate decay or early stopping on MUSE's unsupervised criterion; a fixed number of
  map updates (``steps``), far fewer than MUSE's 5 × 1M samples, as corpus vocabularies are small.
* :func:`align` normalises every vector to unit length first (MUSE's optional ``renorm``): the
  two spaces come from different models with different scales, which an orthogonal map cannot
  fix and a discriminator would use.  ``W`` then maps directions; apply it to any ``s``.
* Different dimensions are handled, not refused: ``W`` is ``d_t × d_s`` with orthonormal columns
  (``d_t ≥ d_s``) or orthonormal rows (``d_t < d_s``, a projection), the Procrustes solution from
  the thin SVD of the rectangular ``T_rᵀ S_r``; the orthogonalisation drives all singular values
  of ``W`` to 1 in either case.

Determinism: the adversarial step draws only from ``seed`` (the global torch RNG is forked and
restored), so a seed gives the same map on CPU with the same thread count; the dictionary and
Procrustes steps draw nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from sertext.config import ALIGNMENT_DICTIONARIES


@dataclass(frozen=True)
class AdversarialConfig:
    """Settings of :func:`adversarial_map`; the defaults are MUSE's unless a comment says otherwise."""

    steps: int = 5000  # map updates (ours: MUSE runs 5 epochs of 1M samples, 32 a batch)
    batch_size: int = 32  # vectors drawn from each space per update
    dis_steps: int = 5  # discriminator updates per map update
    warmup_steps: int = 200  # ours: discriminator-only updates before the game, see module docstring
    lr_map: float = 0.1
    lr_dis: float = 0.1
    hidden: int = 2048  # discriminator width
    layers: int = 2  # discriminator hidden layers
    input_dropout: float = 0.1
    dropout: float = 0.0  # after each hidden layer
    smoothing: float = 0.1  # labels 1 - smoothing (speech) and smoothing (text) for the discriminator
    beta: float = 0.001  # orthogonalisation strength
    init: str = "identity"  # or "random": a random (semi-)orthogonal map

    def __post_init__(self) -> None:
        for name in ("steps", "dis_steps", "warmup_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr_map > 0 and self.lr_dis > 0 and self.beta >= 0):
            raise ValueError(f"need lr_map > 0, lr_dis > 0, beta >= 0; got {self.lr_map}, {self.lr_dis}, {self.beta}")
        if not (0 <= self.input_dropout < 1 and 0 <= self.dropout < 1 and 0 <= self.smoothing < 0.5):
            raise ValueError(f"need dropouts in [0, 1) and smoothing in [0, 0.5); got {self.input_dropout}, "
                             f"{self.dropout}, {self.smoothing}")
        if self.init not in ("identity", "random"):
            raise ValueError(f"init must be 'identity' or 'random', got {self.init!r}")


@dataclass(frozen=True, eq=False)
class AdversarialResult:
    """The adversarial map and the discriminator's balanced accuracy before and after the game.

    Accuracy is the mean of the discriminator's accuracy on all mapped speech vectors and on all
    text vectors (0.5: it cannot tell them apart).  ``accuracy_start`` is measured after the
    warm-up, with the initial map; ``accuracy_end`` with the final map and discriminator.
    """

    matrix: np.ndarray  # W, (d_t, d_s)
    accuracy_start: float
    accuracy_end: float


DICTIONARIES = ALIGNMENT_DICTIONARIES  # align()'s dictionary modes; see the module docstring


@dataclass(frozen=True, eq=False)
class Alignment:
    """The result of :func:`align`.

    ``held_out_cosine``, ``adversarial_cosine`` and ``random_cosine`` are the mean cosine of
    ``W·s`` and ``t`` over the held-out words for the refined map, the adversarial proxy and a
    random (semi-)orthogonal map.

    The refinement's dictionaries, one per Procrustes solve (``"shared_words"``: one), are reported
    by their sizes and precisions, the precision being the fraction of a dictionary's pairs whose
    speech and text words are the same word (``"shared_words"``: 1 by construction).
    ``dictionary_pairs`` is the last dictionary, the one the refined map was solved on.
    """

    matrix: np.ndarray  # W, (d_t, d_s), the refined map
    adversarial_matrix: np.ndarray  # the adversarial proxy, (d_t, d_s)
    held_out_cosine: float
    adversarial_cosine: float
    random_cosine: float
    accuracy_start: float  # discriminator, see AdversarialResult
    accuracy_end: float
    pair_words: tuple[str, ...]  # the k most frequent shared words not held out, most frequent first
    held_out_words: tuple[str, ...]
    dictionary: str  # "induced" or "shared_words"
    dictionary_pairs: tuple[tuple[str, str], ...]  # (speech word, text word), the last dictionary
    dictionary_sizes: tuple[int, ...]  # pairs in each dictionary, in refinement order
    dictionary_precisions: tuple[float, ...]  # same-word fraction of each dictionary

    @property
    def n_pairs(self) -> int:
        """Pairs in the last dictionary (``"shared_words"``: ``k``)."""
        return len(self.dictionary_pairs)

    @property
    def n_held_out(self) -> int:
        return len(self.held_out_words)

    @property
    def dictionary_precision(self) -> float:
        """The precision of the last dictionary, the one the refined map was solved on."""
        return self.dictionary_precisions[-1]

    def summary(self) -> str:
        """A few lines for a log: the dictionary, its precision and the held-out cosines."""
        sizes = ", ".join(str(size) for size in self.dictionary_sizes)
        precisions = ", ".join(f"{value:.3f}" for value in self.dictionary_precisions)
        return (f"dictionary {self.dictionary}: pairs per solve [{sizes}], precision [{precisions}]\n"
                f"held-out cosine over {self.n_held_out} words: refined {self.held_out_cosine:.3f}, "
                f"adversarial {self.adversarial_cosine:.3f}, random {self.random_cosine:.3f}\n"
                f"discriminator accuracy {self.accuracy_start:.3f} -> {self.accuracy_end:.3f}")

    def transform(self, speech: np.ndarray) -> np.ndarray:
        """Map speech vectors, one a row ``(n, d_s)`` or a single ``(d_s,)``, into the text space."""
        return np.asarray(speech, dtype=float) @ self.matrix.T


def _matrix(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (rows = words), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds non-finite values")
    return array


def procrustes(source, target) -> np.ndarray:
    """The orthogonal map ``W`` minimising ``Σᵢ ‖W·sᵢ − tᵢ‖²`` over paired rows (Eq. 3).

    ``W = U Vᵀ`` with ``U Σ Vᵀ`` the thin SVD of ``targetᵀ · source`` (MUSE's orientation).  For
    square maps this equals ``scipy.linalg.orthogonal_procrustes(source, target)[0].T``: scipy
    returns ``R`` with ``source @ R ≈ target``, the transpose of ``W``.

    Args:
        source: ``(n, d_s)``, one word a row (speech vectors ``S_r``).
        target: ``(n, d_t)``, the same words in the same order (text vectors ``T_r``).

    Returns:
        ``W``, ``(d_t, d_s)``; orthogonal when ``d_t == d_s``, else with orthonormal columns
        (``d_t > d_s``) or rows (``d_t < d_s``).

    Raises:
        ValueError: if either array is not a non-empty 2-D finite array or the row counts differ.

    Examples:
        >>> q = np.array([[0.0, -1.0], [1.0, 0.0]])  # a quarter turn
        >>> source = np.array([[1.0, 0.0], [1.0, 2.0]])
        >>> bool(np.allclose(procrustes(source, source @ q.T), q))
        True
    """
    source, target = _matrix(source, "source"), _matrix(target, "target")
    if source.shape[0] != target.shape[0]:
        raise ValueError(f"source and target must pair the same words (rows), got {source.shape[0]} "
                         f"and {target.shape[0]} rows")
    u, _, vt = np.linalg.svd(target.T @ source, full_matrices=False)
    return u @ vt


def random_orthogonal(rows: int, cols: int, *, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random ``(rows, cols)`` map with orthonormal columns (or rows, if ``rows < cols``).

    Examples:
        >>> w = random_orthogonal(3, 2, rng=np.random.default_rng(0))
        >>> bool(np.allclose(w.T @ w, np.eye(2)))
        True
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"need rows >= 1 and cols >= 1, got {rows} and {cols}")
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q = q * np.sign(np.diag(r))  # the sign fix makes QR of a Gaussian matrix Haar-distributed
    return q if rows >= cols else q.T


def mean_cosine(matrix, source, target) -> float:
    """Mean cosine similarity of ``W·sᵢ`` and ``tᵢ`` over paired rows.

    Examples:
        >>> mean_cosine(np.eye(2), [[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [1.0, 0.0]])
        0.5
    """
    source, target = _matrix(source, "source"), _matrix(target, "target")
    mapped = source @ np.asarray(matrix, dtype=float).T
    if mapped.shape != target.shape:
        raise ValueError(f"mapped source has shape {mapped.shape}, target {target.shape}")
    norms = np.linalg.norm(mapped, axis=1) * np.linalg.norm(target, axis=1)
    return float(np.mean(np.sum(mapped * target, axis=1) / np.maximum(norms, 1e-12)))


def csls(mapped, target, *, k: int = 10) -> np.ndarray:
    """Cross-domain similarity local scaling (MUSE) of every mapped row with every target row.

    ``CSLS(xᵢ, yⱼ) = 2 cos(xᵢ, yⱼ) − r_T(xᵢ) − r_S(yⱼ)``, where ``r_T(xᵢ)`` is the mean cosine of
    ``xᵢ`` with its ``k`` most similar target rows and ``r_S(yⱼ)`` that of ``yⱼ`` with its ``k`` most
    similar mapped rows (``k`` capped at the number of rows).  Subtracting the neighbourhood
    densities keeps "hubs", vectors near everything, from being everyone's nearest neighbour.

    Args:
        mapped: ``(m, d)``, e.g. mapped speech vectors ``W·s``, one a row.
        target: ``(n, d)``, e.g. text vectors.
        k: neighbourhood size (MUSE: 10).

    Returns:
        ``(m, n)``, the CSLS of ``mapped[i]`` and ``target[j]`` at ``[i, j]``.

    Raises:
        ValueError: if either array is not a non-empty 2-D finite array, the widths differ or
            ``k < 1``.

    Examples:
        >>> mapped = np.array([[1.0, 0.0], [0.6, 0.8]])
        >>> target = np.array([[0.8, 0.6], [0.0, 1.0]])  # target[0] is a hub
        >>> (mapped @ target.T).argmax(axis=1)  # by cosine, both rows pick the hub
        array([0, 0])
        >>> scores = csls(mapped, target, k=2)  # r_T = [0.4, 0.88], r_S = [0.88, 0.4]
        >>> scores.round(2)
        array([[ 0.32, -0.8 ],
               [ 0.16,  0.32]])
        >>> scores.argmax(axis=1)
        array([0, 1])
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    mapped, target = _unit(_matrix(mapped, "mapped")), _unit(_matrix(target, "target"))
    if mapped.shape[1] != target.shape[1]:
        raise ValueError(f"mapped and target must have the same width, got {mapped.shape[1]} and {target.shape[1]}")
    cosine = mapped @ target.T
    k_target, k_mapped = min(k, cosine.shape[1]), min(k, cosine.shape[0])
    r_target = -np.partition(-cosine, k_target - 1, axis=1)[:, :k_target].mean(axis=1)
    r_mapped = -np.partition(-cosine, k_mapped - 1, axis=0)[:k_mapped].mean(axis=0)
    return 2 * cosine - r_target[:, None] - r_mapped[None, :]


def mutual_nearest_neighbours(similarity) -> np.ndarray:
    """The pairs ``(i, j)`` where column ``j`` is row ``i``'s best and row ``i`` is column ``j``'s best.

    Ties go to the lowest index.  A non-empty matrix always has at least one such pair (its largest
    entry); each row and each column is in at most one.

    Args:
        similarity: ``(m, n)``, higher is more similar (e.g. :func:`csls`).

    Returns:
        ``(p, 2)`` integer array of ``(i, j)``, by increasing ``i``.

    Examples:
        >>> mutual_nearest_neighbours([[0.9, 0.1, 0.0], [0.8, 0.2, 0.1], [0.0, 0.3, 0.7]])
        array([[0, 0],
               [2, 2]])
    """
    similarity = _matrix(similarity, "similarity")
    best_column = similarity.argmax(axis=1)
    best_row = similarity.argmax(axis=0)
    rows = np.flatnonzero(best_row[best_column] == np.arange(len(similarity)))
    return np.stack([rows, best_column[rows]], axis=1)


def _discriminator(dim: int, config: AdversarialConfig) -> nn.Sequential:
    """MUSE's discriminator, returning a logit (the sigmoid lives in the loss)."""
    layers: list[nn.Module] = [nn.Dropout(config.input_dropout)]
    width = dim
    for _ in range(config.layers):
        layers += [nn.Linear(width, config.hidden), nn.LeakyReLU(0.2), nn.Dropout(config.dropout)]
        width = config.hidden
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def _batch(mapping: nn.Linear, source: torch.Tensor, target: torch.Tensor, config: AdversarialConfig):
    """A batch of mapped speech (label 1 - smoothing) and text (label smoothing) vectors."""
    speech = source[torch.randint(len(source), (config.batch_size,))]
    text = target[torch.randint(len(target), (config.batch_size,))]
    x = torch.cat([mapping(speech), text])
    y = torch.cat([torch.full((config.batch_size,), 1 - config.smoothing),
                   torch.full((config.batch_size,), config.smoothing)])
    return x, y


def _discriminator_step(disc, mapping, source, target, config, optimiser) -> None:
    """One update of Eq. 1: the discriminator learns to tell ``W·s`` from ``t``."""
    disc.train()
    with torch.no_grad():
        x, y = _batch(mapping, source, target, config)
    loss = functional.binary_cross_entropy_with_logits(disc(x).squeeze(1), y)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()


def _map_step(disc, mapping, source, target, config, optimiser) -> None:
    """One update of Eq. 2 (flipped labels), then MUSE's orthogonalisation of ``W``."""
    disc.eval()
    x, y = _batch(mapping, source, target, config)
    loss = functional.binary_cross_entropy_with_logits(disc(x).squeeze(1), 1 - y)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    with torch.no_grad():
        w = mapping.weight
        w.copy_((1 + config.beta) * w - config.beta * w @ w.T @ w)


@torch.no_grad()
def _accuracy(disc, mapping, source, target) -> float:
    disc.eval()
    speech_right = (disc(mapping(source)) > 0).float().mean()
    text_right = (disc(target) <= 0).float().mean()
    return float((speech_right + text_right) / 2)


def adversarial_map(source, target, *, config: AdversarialConfig | None = None, seed: int = 0) -> AdversarialResult:
    """Learn ``W`` so that a discriminator cannot tell ``W·s`` from ``t`` (Eq. 1-2, MUSE's recipe).

    Args:
        source: ``(m, d_s)`` speech vectors, one word a row; no pairing with ``target`` is needed.
        target: ``(n, d_t)`` text vectors.
        config: the training settings (default: :class:`AdversarialConfig`'s, MUSE's).
        seed: initialisation, batches and dropout; the global torch RNG is left as it was.

    Returns:
        The map ``W`` ``(d_t, d_s)`` and the discriminator's accuracy before and after the game.

    Raises:
        ValueError: if either array is not a non-empty 2-D finite array.

    Examples:
        >>> tiny = AdversarialConfig(steps=2, warmup_steps=1, hidden=4)
        >>> adversarial_map(np.eye(3), np.eye(3), config=tiny).matrix.shape
        (3, 3)
    """
    config = config or AdversarialConfig()
    source, target = _matrix(source, "source"), _matrix(target, "target")
    (d_s, d_t), rng = (source.shape[1], target.shape[1]), np.random.default_rng(seed)
    initial = np.eye(d_t, d_s) if config.init == "identity" else random_orthogonal(d_t, d_s, rng=rng)
    src = torch.as_tensor(source, dtype=torch.float32)
    tgt = torch.as_tensor(target, dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mapping = nn.Linear(d_s, d_t, bias=False)
        with torch.no_grad():
            mapping.weight.copy_(torch.as_tensor(initial, dtype=torch.float32))
        disc = _discriminator(d_t, config)
        dis_optimiser = torch.optim.SGD(disc.parameters(), lr=config.lr_dis)
        map_optimiser = torch.optim.SGD(mapping.parameters(), lr=config.lr_map)
        for _ in range(config.warmup_steps):
            _discriminator_step(disc, mapping, src, tgt, config, dis_optimiser)
        start = _accuracy(disc, mapping, src, tgt)
        for _ in range(config.steps):
            for _ in range(config.dis_steps):
                _discriminator_step(disc, mapping, src, tgt, config, dis_optimiser)
            _map_step(disc, mapping, src, tgt, config, map_optimiser)
        end = _accuracy(disc, mapping, src, tgt)
    return AdversarialResult(mapping.weight.detach().double().numpy(), start, end)


def _stack(vectors: Mapping[str, np.ndarray], words, name: str) -> np.ndarray:
    return _matrix([vectors[word] for word in words], name)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _check_vectors(vectors: Mapping[str, np.ndarray], name: str) -> int:
    """The common dimension of a word -> vector dict; raises on an empty dict or a bad vector."""
    if not vectors:
        raise ValueError(f"{name} is empty")
    dims = {word: np.shape(vector) for word, vector in vectors.items()}
    first_word, first = next(iter(dims.items()))
    if len(first) != 1 or first[0] == 0:
        raise ValueError(f"{name}[{first_word!r}] must be a non-empty 1-D vector, got shape {first}")
    odd = [word for word, shape in dims.items() if shape != first]
    if odd:
        raise ValueError(f"{name} mixes vector shapes: {first_word!r} has {first}, {odd[0]!r} {dims[odd[0]]}")
    return first[0]


def _ranked_shared(speech: Mapping, words: Mapping, frequencies: Mapping[str, int]) -> list[str]:
    """Words in both vocabularies, most frequent first (ties: alphabetical)."""
    shared = [word for word in speech if word in words]
    missing = [word for word in shared if word not in frequencies]
    if missing:
        raise ValueError(f"frequencies lacks {len(missing)} shared word(s), e.g. {missing[:3]}")
    return sorted(shared, key=lambda word: (-frequencies[word], word))


def _candidates(vectors: Mapping, frequencies: Mapping[str, int], excluded, k: int) -> list[str]:
    """The ``k`` most frequent words of one space that have a count and are not excluded."""
    counted = [word for word in vectors if word in frequencies and word not in excluded]
    return sorted(counted, key=lambda word: (-frequencies[word], word))[:k]


def _precision(pairs) -> float:
    return sum(speech == text for speech, text in pairs) / len(pairs)


def align(
    speech_vectors: Mapping[str, np.ndarray],
    word_vectors: Mapping[str, np.ndarray],
    frequencies: Mapping[str, int],
    *,
    k: int,
    held_out: int,
    dictionary: str = "induced",
    refinements: int = 5,
    csls_k: int = 10,
    adversarial: AdversarialConfig | None = None,
    normalise: bool = True,
    seed: int = 0,
) -> Alignment:
    """Map Speech2Vec onto Word2Vec vectors: adversarial proxy, then Procrustes on frequent words.

    The ``k + held_out`` most frequent words shared by both vocabularies are split at random
    (``seed``) into ``k`` words (:attr:`Alignment.pair_words`) and ``held_out`` check words.
    Held-out words enter no step, not even the (unpaired) adversarial step; all other words of each
    vocabulary feed the adversarial step.  The refinement then depends on ``dictionary``:

    * ``"induced"`` (the paper's, after Chung et al. and MUSE): the candidates are the ``k`` most
      frequent words of each space by ``frequencies`` (held-out words and words without a count
      left out); from the current map, pair each speech candidate with the text candidate it is a
      mutual nearest neighbour of by CSLS, and solve Procrustes on those pairs; ``refinements``
      times, starting from the adversarial proxy.  No word identity is used, except to report
      each dictionary's precision.
    * ``"shared_words"`` (supervised): pair each of the ``k`` words with itself and solve
      Procrustes once; ``refinements`` and ``csls_k`` are not used.

    Args:
        speech_vectors: word -> Speech2Vec vector ``(d_s,)`` (e.g. the mean of its segments').
        word_vectors: word -> Word2Vec vector ``(d_t,)``; ``d_t`` may differ from ``d_s``.
        frequencies: word -> count, for every shared word (other words with a count may become
            ``"induced"`` candidates).
        k: the paper's ``k``: frequent words per space for the dictionary.
        held_out: frequent shared words kept back for the check.
        dictionary: ``"induced"`` or ``"shared_words"``, see above.
        refinements: dictionary-induction and Procrustes rounds (MUSE: 5); ``"induced"`` only.
        csls_k: the CSLS neighbourhood size (MUSE: 10); ``"induced"`` only.
        adversarial: settings of the adversarial step (default: MUSE's).  A config with
            ``steps=0`` and ``warmup_steps=0`` skips the game and leaves its initial map
            (``init``) as the proxy.
        normalise: scale every vector to unit length first.
        seed: the held-out split, the random comparison map and the adversarial step.

    Returns:
        The refined map, the adversarial proxy, the dictionaries' sizes and precisions and the
        held-out checks.

    Raises:
        ValueError: on an empty dict, vectors of mixed shape within a dict or non-finite values,
            a shared word without frequency, ``k`` or ``held_out`` below 1, fewer than
            ``k + held_out`` shared words, an unknown ``dictionary``, or ``refinements`` or
            ``csls_k`` below 1.

    Examples:
        >>> speech = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0]}
        >>> text = {"a": [0.0, 1.0], "b": [-1.0, 0.0], "c": [-1.0, 1.0]}  # speech turned by 90°
        >>> tiny = AdversarialConfig(steps=1, warmup_steps=0, hidden=4)
        >>> known = align(speech, text, {"a": 3, "b": 2, "c": 1}, k=2, held_out=1, adversarial=tiny,
        ...               dictionary="shared_words")
        >>> known.n_pairs, known.n_held_out, round(known.held_out_cosine, 6), known.dictionary_precision
        (2, 1, 1.0, 1.0)
        >>> induced = align(speech, text, {"a": 3, "b": 2, "c": 1}, k=2, held_out=1, adversarial=tiny)
        >>> induced.dictionary, len(induced.dictionary_sizes)
        ('induced', 5)
    """
    if dictionary not in DICTIONARIES:
        raise ValueError(f"dictionary must be one of {DICTIONARIES}, got {dictionary!r}")
    if refinements < 1 or csls_k < 1:
        raise ValueError(f"need refinements >= 1 and csls_k >= 1, got refinements={refinements}, csls_k={csls_k}")
    d_s, d_t = _check_vectors(speech_vectors, "speech_vectors"), _check_vectors(word_vectors, "word_vectors")
    if k < 1 or held_out < 1:
        raise ValueError(f"need k >= 1 and held_out >= 1, got k={k}, held_out={held_out}")
    ranked = _ranked_shared(speech_vectors, word_vectors, frequencies)
    if len(ranked) < k + held_out:
        raise ValueError(f"speech_vectors and word_vectors share {len(ranked)} word(s), fewer than "
                         f"k + held_out = {k} + {held_out}")
    rng = np.random.default_rng(seed)
    top = ranked[: k + held_out]
    held = set(rng.choice(len(top), size=held_out, replace=False).tolist())
    held_words = tuple(word for i, word in enumerate(top) if i in held)
    pair_words = tuple(word for i, word in enumerate(top) if i not in held)
    prepare = _unit if normalise else (lambda rows: rows)

    def rows(vectors, words, name):
        return prepare(_stack(vectors, words, name))

    adv = adversarial_map(rows(speech_vectors, [w for w in speech_vectors if w not in held_words], "speech_vectors"),
                          rows(word_vectors, [w for w in word_vectors if w not in held_words], "word_vectors"),
                          config=adversarial, seed=seed)
    if dictionary == "shared_words":
        pairs = tuple((word, word) for word in pair_words)
        matrix = procrustes(rows(speech_vectors, pair_words, "speech_vectors"),
                            rows(word_vectors, pair_words, "word_vectors"))
        sizes, precisions = (len(pairs),), (1.0,)
    else:
        speech_words = _candidates(speech_vectors, frequencies, held_words, k)
        text_words = _candidates(word_vectors, frequencies, held_words, k)
        speech_rows = rows(speech_vectors, speech_words, "speech_vectors")
        text_rows = rows(word_vectors, text_words, "word_vectors")
        matrix, sizes, precisions = adv.matrix, [], []
        for _ in range(refinements):
            index = mutual_nearest_neighbours(csls(speech_rows @ matrix.T, text_rows, k=csls_k))
            pairs = tuple((speech_words[i], text_words[j]) for i, j in index)
            matrix = procrustes(speech_rows[index[:, 0]], text_rows[index[:, 1]])
            sizes.append(len(pairs))
            precisions.append(_precision(pairs))
    check_s = rows(speech_vectors, held_words, "speech_vectors")
    check_t = rows(word_vectors, held_words, "word_vectors")
    return Alignment(
        matrix=matrix,
        adversarial_matrix=adv.matrix,
        held_out_cosine=mean_cosine(matrix, check_s, check_t),
        adversarial_cosine=mean_cosine(adv.matrix, check_s, check_t),
        random_cosine=mean_cosine(random_orthogonal(d_t, d_s, rng=rng), check_s, check_t),
        accuracy_start=adv.accuracy_start,
        accuracy_end=adv.accuracy_end,
        pair_words=pair_words,
        held_out_words=held_words,
        dictionary=dictionary,
        dictionary_pairs=pairs,
        dictionary_sizes=tuple(sizes),
        dictionary_precisions=tuple(precisions),
    )
