"""Speech2Vec (Chung & Glass, Interspeech 2018): word-segment embeddings learnt from speech alone.

Tzirakis et al. (ICASSP 2021, §1 and §3.1) train Speech2Vec on the word segments of the corpus and
use the segments' vectors as speech-only semantic features (their speech embedding matrix ``S``,
later mapped onto a Word2Vec space).  This module implements the Speech2Vec part:

* :func:`skipgram_pairs`: (centre, context) segment pairs from the neighbours within ``window``
  positions in the same utterance, never across an utterance boundary;
* :class:`Speech2Vec`: an RNN encoder-decoder.  The encoder, a bidirectional LSTM over a segment's
  acoustic frames ``(B, T, F)``, packed so padding is never read, maps the concatenated last
  forward and backward states through a linear layer to a ``dim``-d vector.  The decoder, a
  unidirectional LSTM, reconstructs a frame sequence of a requested length from that vector: the
  vector sets its initial state (``h0 = tanh(W_h z)``, ``c0 = W_c z``) and is also its input at
  every step; a linear layer maps each step to ``F`` values;
* :func:`masked_mse`: the reconstruction loss, mean squared error over the real frames only;
* :func:`train_speech2vec`: skip-gram training, each centre segment's vector decoded into each
  context segment's frames, with Adam;
* :func:`embed_segments` (a segment's vector: its speech-only feature, no transcript needed) and
  :func:`word_embeddings` (a word type's vector: the mean over all its segments).

What follows Chung & Glass (as we recall the paper; its text is not in the project's sources):
skip-gram objective with window 3 by default; MSE reconstruction of every neighbour's frames;
a single-layer bidirectional LSTM encoder and a single-layer LSTM decoder; word embedding = mean
of the vectors of the word's segments; embedding sizes of 50-300 (``dim``, default 50).

Where this module departs, and why:

* Adam (Tzirakis et al.'s optimiser, §5.1) instead of the plain SGD at lr 1e-3 for 500
  epochs we recall from Chung & Glass; the defaults (``epochs=10``, ``batch_size=64``) suit a CPU
  demo, not LibriSpeech.
* The decoder gets no previous frame as input (no teacher forcing, nothing fed back): the vector
  is its only input, so all it reconstructs must pass through the vector.  Feeding back frames
  lets a decoder copy its last frame and ignore the vector; Chung & Glass's conditioning details
  are not something we could check.
* The linear layer after the encoder makes ``dim`` independent of the LSTM size (``hidden``,
  default ``dim``); Chung & Glass take the encoder state itself as the vector.
* The loss averages over all real frames of a batch (each pair weighs by its context length);
  Chung & Glass sum the per-neighbour losses of a centre segment.  Same minimiser per pair,
  different weighting.
* ``max_frames`` optionally cuts every segment to its first frames to bound the cost of long
  segments (off by default).
* Features are used as given: standardise them (per dimension) beforehand, as MSE weighs every
  dimension by its scale.  Chung & Glass use 13-d MFCCs (25 ms windows, 10 ms hop); any frames do.

Determinism: initialisation and shuffling draw only from ``seed`` (the global torch RNG is forked
and restored), so a seed gives identical embeddings on CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence


def skipgram_pairs(utterances: Sequence[Sequence[int]], *, window: int) -> np.ndarray:
    """(centre, context) segment pairs within ``window`` positions, inside each utterance only.

    Args:
        utterances: per utterance, its segments' global indices in spoken order.
        window: how many neighbours on each side are context (Chung & Glass use 3).

    Returns:
        ``(n_pairs, 2)`` int64 array; per utterance, per centre in spoken order, the contexts in
        spoken order.

    Raises:
        ValueError: if ``window`` is below 1.

    Examples:
        >>> skipgram_pairs([[7, 8, 9], [3, 4]], window=1).tolist()
        [[7, 8], [8, 7], [8, 9], [9, 8], [3, 4], [4, 3]]
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    pairs = []
    for utterance in utterances:
        ids = [int(i) for i in utterance]
        for i, centre in enumerate(ids):
            for j in range(max(0, i - window), min(len(ids), i + window + 1)):
                if j != i:
                    pairs.append((centre, ids[j]))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the real frames only; frames at or past ``lengths`` are ignored.

    Args:
        prediction: ``(B, T, F)`` decoded frames.
        target: ``(B, T, F)`` true frames, padded after each sequence's length.
        lengths: ``(B,)`` real frame counts.

    Returns:
        Scalar: the squared error summed over real frames and features, divided by their count.

    Examples:
        >>> target = torch.zeros(1, 3, 2)
        >>> target[0, 2] = 100.0  # padding
        >>> masked_mse(torch.ones(1, 3, 2), target, torch.tensor([2])).item()
        1.0
    """
    steps = torch.arange(target.shape[1], device=target.device)
    mask = (steps[None, :] < lengths.to(target.device)[:, None]).unsqueeze(-1)  # (B, T, 1)
    squared = torch.where(mask, (prediction - target) ** 2, torch.zeros_like(target))
    return squared.sum() / (mask.sum() * target.shape[-1])


class Speech2Vec(nn.Module):
    """RNN encoder-decoder: a segment's frames → a ``dim``-d vector → a neighbour's frames.

    Args:
        n_features: frame size ``F`` (13 for Chung & Glass's MFCCs).
        dim: embedding size.
        hidden: LSTM size, per direction in the encoder (default: ``dim``).
    """

    def __init__(self, n_features: int, *, dim: int = 50, hidden: int | None = None) -> None:
        super().__init__()
        hidden = dim if hidden is None else hidden
        for name, value in (("n_features", n_features), ("dim", dim), ("hidden", hidden)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.n_features, self.dim, self.hidden = n_features, dim, hidden
        self.encoder = nn.LSTM(n_features, hidden, batch_first=True, bidirectional=True)
        self.to_vector = nn.Linear(2 * hidden, dim)
        self.to_state = nn.Linear(dim, 2 * hidden)  # h0 and c0 of the decoder
        self.decoder = nn.LSTM(dim, hidden, batch_first=True)
        self.to_frame = nn.Linear(hidden, n_features)

    def encode(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` frames, ``(B,)`` lengths ≥ 1 → ``(B, dim)`` vectors (padding never read)."""
        if frames.shape[-1] != self.n_features:
            raise ValueError(f"frames have {frames.shape[-1]} features, the model expects {self.n_features}")
        packed = pack_padded_sequence(frames, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.encoder(packed)  # h_n: (2, B, hidden), each direction's last real state
        return self.to_vector(torch.cat([h_n[0], h_n[1]], dim=-1))  # (B, dim)

    def decode(self, vectors: torch.Tensor, n_frames: int) -> torch.Tensor:
        """``(B, dim)`` vectors → ``(B, n_frames, F)`` frames.

        The decoder is causal and its input is the vector at every step, so the first ``t``
        frames do not depend on ``n_frames``: a batch decodes to its longest target and the loss
        masks the rest.
        """
        h0, c0 = self.to_state(vectors).chunk(2, dim=-1)  # (B, hidden) each
        steps = vectors.unsqueeze(1).expand(-1, n_frames, -1)  # (B, n_frames, dim)
        out, _ = self.decoder(steps, (torch.tanh(h0).unsqueeze(0), c0.unsqueeze(0).contiguous()))
        return self.to_frame(out)  # (B, n_frames, F)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor, n_frames: int) -> torch.Tensor:
        """Encode ``(B, T, F)`` centre frames and decode ``(B, n_frames, F)`` context frames."""
        return self.decode(self.encode(frames, lengths), n_frames)


def _check_segments(segments: Sequence[np.ndarray], *, n_features: int | None = None) -> None:
    """Raise ``ValueError`` unless every segment is a finite, non-empty ``(T, F)`` array of one ``F``."""
    if len(segments) == 0:
        raise ValueError("no segments given")
    for i, segment in enumerate(segments):
        shape = np.shape(segment)
        if len(shape) != 2:
            raise ValueError(f"segment {i} has shape {shape}, expected (n_frames, n_features)")
        if shape[0] == 0 or shape[1] == 0:
            raise ValueError(f"segment {i} is empty (shape {shape}); every word segment needs frames")
        if n_features is None:
            n_features = shape[1]
        if shape[1] != n_features:
            raise ValueError(f"segment {i} has {shape[1]} features, segment 0 (or the model) has {n_features}")
        if not np.all(np.isfinite(segment)):
            raise ValueError(f"segment {i} has non-finite values")


def _check_utterances(utterances: Sequence[Sequence[int]], n_segments: int) -> None:
    """Raise ``ValueError`` if an utterance names a segment index outside ``[0, n_segments)``."""
    for u, utterance in enumerate(utterances):
        for i in utterance:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < n_segments:
                raise ValueError(f"utterance {u} names segment {i!r}, outside 0..{n_segments - 1}")


def _batch(tensors: list[torch.Tensor], ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded ``(B, T, F)`` frames and ``(B,)`` lengths of the segments ``ids``."""
    chosen = [tensors[i] for i in ids]
    lengths = torch.tensor([len(t) for t in chosen], dtype=torch.int64)
    return pad_sequence(chosen, batch_first=True), lengths


def _to_tensors(segments: Sequence[np.ndarray], max_frames: int | None) -> list[torch.Tensor]:
    """float32 tensors of the segments, each cut to its first ``max_frames`` frames if given."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    return [torch.as_tensor(np.asarray(s, dtype=np.float32)[:max_frames]) for s in segments]


def _pair_loss(model: Speech2Vec, tensors: list[torch.Tensor], pairs: np.ndarray) -> torch.Tensor:
    """Masked MSE of decoding each pair's centre vector into its context frames."""
    frames, lengths = _batch(tensors, pairs[:, 0])
    target, target_lengths = _batch(tensors, pairs[:, 1])
    prediction = model(frames, lengths, target.shape[1])
    return masked_mse(prediction, target, target_lengths)


def train_speech2vec(
    segments: Sequence[np.ndarray],
    utterances: Sequence[Sequence[int]],
    *,
    dim: int = 50,
    hidden: int | None = None,
    window: int = 3,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    max_frames: int | None = None,
    progress: bool = False,
) -> Speech2Vec:
    """Train Speech2Vec with the skip-gram objective (module docstring) and Adam.

    Args:
        segments: per word segment, its ``(T_i, F)`` frames.
        utterances: per utterance, its segments' indices into ``segments`` in spoken order.
        dim: embedding size.
        hidden: LSTM size (default: ``dim``).
        window: context positions on each side (Chung & Glass: 3).
        epochs: passes over all pairs; 0 returns the initialised model.
        batch_size: pairs per step.
        lr: Adam learning rate.
        seed: initialisation and shuffling; the global torch RNG is left as it was.
        max_frames: cut every segment to its first ``max_frames`` frames (default: no cut).
        progress: print the mean loss of each epoch.

    Returns:
        The trained model, in eval mode.

    Raises:
        ValueError: on an empty or malformed segment, differing feature sizes, a window below 1,
            an out-of-range segment index, no pair at all, or a non-positive size.
    """
    _check_segments(segments)
    _check_utterances(utterances, len(segments))
    pairs = skipgram_pairs(utterances, window=window)
    if len(pairs) == 0:
        raise ValueError("no skip-gram pairs: every utterance has fewer than two segments")
    if epochs < 0 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}")
    tensors = _to_tensors(segments, max_frames)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Speech2Vec(np.shape(segments[0])[1], dim=dim, hidden=hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(pairs))
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = pairs[order[start : start + batch_size]]
            loss = _pair_loss(model, tensors, batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        if progress:
            print(f"speech2vec epoch {epoch + 1}/{epochs}: loss {total / len(pairs):.4f}")
    return model.eval()


@torch.no_grad()
def skipgram_loss(
    model: Speech2Vec,
    segments: Sequence[np.ndarray],
    utterances: Sequence[Sequence[int]],
    *,
    window: int = 3,
    batch_size: int = 64,
    max_frames: int | None = None,
) -> float:
    """Mean masked reconstruction loss over all skip-gram pairs (eval mode, no gradient).

    Each batch's loss is weighted by its pair count, as in the epoch means of training.

    Raises:
        ValueError: as :func:`train_speech2vec`.
    """
    _check_segments(segments, n_features=model.n_features)
    _check_utterances(utterances, len(segments))
    pairs = skipgram_pairs(utterances, window=window)
    if len(pairs) == 0:
        raise ValueError("no skip-gram pairs: every utterance has fewer than two segments")
    tensors = _to_tensors(segments, max_frames)
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start : start + batch_size]
        total += _pair_loss(model, tensors, batch).item() * len(batch)
    model.train(was_training)
    return total / len(pairs)


@torch.no_grad()
def embed_segments(
    model: Speech2Vec, segments: Sequence[np.ndarray], *, batch_size: int = 256, max_frames: int | None = None
) -> np.ndarray:
    """Each segment's encoder vector: its speech-only semantic feature (eval mode, no gradient).

    Args:
        model: a trained :class:`Speech2Vec`.
        segments: per segment, its ``(T_i, F)`` frames.
        batch_size: segments per forward pass (the result does not depend on it).
        max_frames: cut as in training, if training cut.

    Returns:
        ``(n_segments, dim)`` float32 array.

    Raises:
        ValueError: on an empty or malformed segment, or frames of another size than the model's.
    """
    _check_segments(segments, n_features=model.n_features)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    tensors = _to_tensors(segments, max_frames)
    was_training = model.training
    model.eval()
    vectors = []
    for start in range(0, len(tensors), batch_size):
        frames, lengths = _batch(tensors, np.arange(start, min(start + batch_size, len(tensors))))
        vectors.append(model.encode(frames, lengths))
    model.train(was_training)
    return torch.cat(vectors).numpy()


def word_embeddings(segment_vectors: np.ndarray, words: Sequence[str]) -> dict[str, np.ndarray]:
    """A word type's embedding: the mean of the vectors of all its segments (Chung & Glass).

    Args:
        segment_vectors: ``(n_segments, dim)`` vectors, e.g. from :func:`embed_segments`.
        words: the word of each segment (the transcript is needed here, not at evaluation).

    Returns:
        Word → ``(dim,)`` mean vector, in order of first occurrence.

    Raises:
        ValueError: if there is not one word per vector.

    Examples:
        >>> vectors = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0]])
        >>> {w: v.tolist() for w, v in word_embeddings(vectors, ["yes", "yes", "no"]).items()}
        {'yes': [2.0, 1.0], 'no': [0.0, 5.0]}
    """
    vectors = np.asarray(segment_vectors)
    if vectors.ndim != 2 or len(vectors) != len(words):
        raise ValueError(f"need one word per vector: {vectors.shape} vectors, {len(words)} words")
    rows: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        rows.setdefault(word, []).append(i)
    return {word: vectors[ids].mean(axis=0) for word, ids in rows.items()}
