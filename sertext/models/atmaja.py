"""Atmaja & Akagi (O-COCOSDA 2020): acoustic statistics + word vectors, LSTM branches, concatenation.

Inputs (:data:`INPUTS`): ``acoustic`` ``(B, acoustic_dim)``, the 68-d pyAudioAnalysis mean + std
vector (:mod:`sertext.features.pyaudio`), and ``words`` ``(B, L, word_dim)``, the transcript's word
vectors padded to the batch's longest, with ``words_lengths`` ``(B,)``
(:mod:`sertext.features.words`).  Outputs ``(B, n_outputs)``: three for multitask V/A/D, one for
single-task valence; trained with :func:`sertext.losses.ccc_loss`.

Training, as the paper (§III-C) has it and where the public Keras code differs:

* Optimiser: the paper trains the **acoustic-only** networks with **Nadam** and the
  **acoustic+text** network with **RMSprop** ("since this optimizer gave better results than the
  previous Adam optimizer").  The registry's default is RMSprop (Keras defaults: PyTorch
  ``lr=1e-3, alpha=0.9, eps=1e-7``), the fusion network's; rows with ``model.modalities="audio"``
  should set ``train.optimizer="nadam"`` and ``train.lr=0.002`` as the paper does (Keras 2's Nadam
  defaults, the paper's "Keras toolkit with TensorFlow backend": lr 0.002, ``eps=1e-7``, momentum
  decay 0.004, which the trainer uses; tf.keras' default lr is 0.001): ``sweeps/ccc_weights.py``
  does.  The paper names no optimiser for the text-only network.
* CCC loss weights (Eq. 4): α=0.7, β=0.2 (V, A; D 0.1) for the text-only and fusion networks,
  α=0.1, β=0.4 (V 0.1, A 0.4, D 0.5) for acoustic only; the code's ``ser_multi.py`` uses
  V 0.1, A 0.5, D 0.4 (DIFF).  Set with ``train.loss_weights``.
* Budget, from the code (the paper gives none): batch 256, at most 50 epochs, early stopping on the
  validation loss with patience 10 (sertext keeps the best dev epoch instead); the acoustic-only
  ``ser_multi.py``: Nadam, batch 64, 200 epochs.
* Labels: IEMOCAP's aggregated labels outside the 1-5 scale (0.5, 5.5) are clipped to it (§III-A),
  ``data.clip_labels="scale"``, the registry's default for this family; the paper's further
  scaling to [−1, 1] (the code fits the MinMax scaler on all data, test included) is not done:
  the linear outputs learn the labels' own scale.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

INPUTS = ("acoustic", "words")
BRANCH_UNITS = 64
LSTM_UNITS = 256


class AtmajaModel(nn.Module):
    """``forward(acoustic (B, F), words (B, L, D), words_lengths (B,)) -> (B, n_outputs)``.

    Layers (docs/models.md (d) "Network"):

    * acoustic: BatchNorm → LSTM(F) → LSTM 256 → LSTM 256 (last state) → Dense 64, linear;
    * text: LSTM(D) → LSTM 256 → LSTM 256 (last state) → Dense 64, linear → Dropout 0.4;
    * fusion: concatenate (128) → Dense 64 ReLU → Dense 32 ReLU → Dropout 0.4 → linear outputs
      (one ``Linear(32, n_outputs)``, the same as the paper's separate Dense(1) heads).

    ``text=False`` is the paper's acoustic-only baseline, ``acoustic=False`` text only.  A
    single-branch model puts the outputs straight on the branch's 64-d output, as the public
    acoustic-only (``ser_multi.py``) and text-only scripts do: the fusion layers need both branches.

    Where sertext follows the paper and where the public Keras code differs:

    * The first LSTM of each branch has as many units as its input (paper).  The code's "BERT"
      script keeps 300 units for 768-d vectors and ``_glove`` hard-codes 47 acoustic units (a
      bug); ``text_units=300`` reproduces the former.  No acoustic dropout (paper; ``_glove`` adds
      0.1).
    * The acoustic vector is a length-1 sequence, as in the replication that reshapes the 68-d
      vector to ``(N, 1, 68)``; the recurrences therefore see one step.
    * Words: the code pre-pads to 554 with zero vectors and does not mask; sertext packs the
      variable-length sequences, so padding never changes the last state.  The code fine-tunes a
      Keras embedding of the word vectors; here they are frozen features.
    * Keras defaults, followed: Glorot-uniform dense and LSTM input weights, zero biases,
      orthogonal recurrent weights, forget-gate bias 1 (on the recurrent bias, where Keras'
      CuDNNLSTM puts it), BatchNorm momentum 0.01 (Keras 0.99) and eps 1e-3.  The code's
      CuDNNLSTM has two bias vectors like PyTorch's LSTM, so the parameter counts agree; a plain
      Keras LSTM has one (4·units fewer per layer).

    Args:
        n_outputs: outputs (3: V, A, D; 1: valence).
        acoustic_dim: size of the acoustic vector (68; 69 with the optional silence ratio).
        word_dim: size of a word vector (300 for GloVe/word2vec/fastText, 384 for MiniLM).
        text, acoustic: which branches to build.
        text_units: units of the first text LSTM (default ``word_dim``, as in the paper).
        dropout: dropout after the text branch and before the outputs (0.4).
    """

    def __init__(self, n_outputs: int, *, acoustic_dim: int = 68, word_dim: int = 300, text: bool = True,
                 acoustic: bool = True, text_units: int | None = None, dropout: float = 0.4) -> None:
        super().__init__()
        if not (text or acoustic):
            raise ValueError("AtmajaModel needs the text branch, the acoustic branch or both")
        self.inputs = tuple(name for name, used in zip(INPUTS, (acoustic, text), strict=True) if used)
        if acoustic:
            self.acoustic_norm = nn.BatchNorm1d(acoustic_dim, momentum=0.01, eps=1e-3)
            self.acoustic_lstms = _lstm_stack(acoustic_dim, acoustic_dim)
            self.acoustic_dense = nn.Linear(LSTM_UNITS, BRANCH_UNITS)
        if text:
            self.text_lstms = _lstm_stack(word_dim, text_units or word_dim)
            self.text_dense = nn.Linear(LSTM_UNITS, BRANCH_UNITS)
        self.dropout = nn.Dropout(dropout)
        if text and acoustic:
            self.fusion = nn.Sequential(nn.Linear(2 * BRANCH_UNITS, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.out = nn.Linear(32 if text and acoustic else BRANCH_UNITS, n_outputs)
        init_keras_style(self)

    def forward(self, acoustic: torch.Tensor | None = None, words: torch.Tensor | None = None,
                words_lengths: torch.Tensor | None = None) -> torch.Tensor:
        branches = []
        if "acoustic" in self.inputs:
            branches.append(self.acoustic_branch(_required(acoustic, "acoustic")))  # (B, 64)
        if "words" in self.inputs:
            branches.append(self.text_branch(_required(words, "words"), words_lengths))  # (B, 64)
        if len(branches) == 1:
            return self.out(branches[0])
        x = self.fusion(torch.cat(branches, dim=1))  # (B, 32)
        return self.out(self.dropout(x))

    def acoustic_branch(self, acoustic: torch.Tensor) -> torch.Tensor:
        x = self.acoustic_norm(acoustic).unsqueeze(1)  # (B, 1, F): a length-1 sequence
        for lstm in self.acoustic_lstms:
            x, (last, _) = lstm(x)
        return self.acoustic_dense(last[0])  # (B, 64), linear

    def text_branch(self, words: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        batch, steps, _ = words.shape  # (B, L, D)
        if lengths is None:
            lengths = torch.full((batch,), steps, dtype=torch.long)
        if lengths.shape != (batch,) or (lengths < 1).any() or (lengths > steps).any():
            raise ValueError(f"words_lengths must be (batch,) values in 1..{steps}, got {lengths.tolist()}")
        x = pack_padded_sequence(words, lengths.cpu(), batch_first=True, enforce_sorted=False)
        for lstm in self.text_lstms:
            x, (last, _) = lstm(x)  # last: (1, B, units) in the input's batch order
        return self.dropout(self.text_dense(last[0]))  # (B, 64), linear


def _lstm_stack(input_size: int, first_units: int) -> nn.ModuleList:
    """Three stacked LSTMs: ``first_units``, then 256 and 256 (only the last one's final state is used)."""
    return nn.ModuleList([nn.LSTM(input_size, first_units, batch_first=True),
                          nn.LSTM(first_units, LSTM_UNITS, batch_first=True),
                          nn.LSTM(LSTM_UNITS, LSTM_UNITS, batch_first=True)])


def _required(tensor: torch.Tensor | None, name: str) -> torch.Tensor:
    if tensor is None:
        raise ValueError(f"AtmajaModel with this branch needs the {name!r} input")
    return tensor


def init_keras_style(module: nn.Module) -> None:
    """Keras 2 defaults: Glorot-uniform kernels with zero bias, orthogonal recurrent weights, and
    CuDNNLSTM's unit forget bias (1 on the recurrent bias of the forget gate, 0 elsewhere)."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.LSTM):
            units = layer.hidden_size
            nn.init.xavier_uniform_(layer.weight_ih_l0)  # fans (input, 4·units), as Keras' kernel
            nn.init.orthogonal_(layer.weight_hh_l0)
            nn.init.zeros_(layer.bias_ih_l0)
            nn.init.zeros_(layer.bias_hh_l0)
            with torch.no_grad():
                layer.bias_hh_l0[units:2 * units] = 1.0  # gate order (input, forget, cell, output)
