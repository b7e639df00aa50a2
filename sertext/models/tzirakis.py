"""Tzirakis et al. (ICASSP 2021): raw-waveform CNN + word vectors, attention fusion, LSTM.

Layout (docs/models.md (c), the public TF1 code ``models.py``), per 0.1 s frame:

* paralinguistic extractor on the utterance's waveform frames concatenated into one signal:
  Conv1d 50 k8 → MaxPool 10 → Conv1d 125 k6 → MaxPool 5 → Conv1d 250 k6 → MaxPool 5 (each conv
  "same" + ReLU, each pool followed by dropout 0.5), the ``(steps, 250)`` result reshaped row-major
  back to ``(n_frames, frame_samples)`` (rows do not align exactly with frames, as in the code);
* fusion with the frame's word vector, the three rows of the paper's Table 3:
  ``"hierarchical"`` (the default: the paper's "disentangled attention" of Eq. 4-7, the code's
  default), ``"attention"`` (Eq. 4-5 alone: one attention over the two projected modalities, then
  a 512 layer so the LSTM sees the same width) or ``"concat"`` (the code's commented-out FC
  baseline, the paper's concatenation row);
* or one network alone, the rows of the paper's Table 2 (``acoustic=False``: the semantic network,
  ``text=False``: the paralinguistic one): its features FC 1024 → FC 512 (ReLU), as the
  concatenation with the other modality left out (the paper does not describe its single-network
  models; this keeps everything after the fusion the same);
* one LSTM layer of 256 with peepholes and cell clipping at 100 (TF1 ``LSTMCell``), written here
  as a small cell unrolled in Python since ``nn.LSTM`` has neither; linear 256 → ``n_outputs``.

Where sertext follows which:

* Table 1 of the paper gives the third conv 125 channels; the code (followed) has 250, which is
  what lets the output reshape back to the input's size.
* The paper's Eq. 4 and 6 projections are linear; the code's ``fully_connected`` layers (followed)
  have ReLU, and its three branches go 1024 → 512.  The paper puts dropout 0.5 on every
  non-recurrent layer and on the LSTM; the code (followed) only in the extractor.
* Training (the trainer, :mod:`sertext.models.registry`): the paper's (§5) Adam at a fixed lr
  1e-4 with the default betas, mini-batches of 25 (here utterances; the paper's are 10 s
  sequences) and gradient-norm clipping at 5.0 (``train.grad_clip``; the trainer clips the global
  norm over all parameters, the paper says only that the LSTM network is trained with it).  The
  public code trains with Adam lr 5e-4, β2 0.99, batch 5 and no clipping; the registry's
  ``public_code`` holds those as trial-config overrides (``train.lr=5e-4``, ``train.batch_size=5``,
  ``train.betas=(0.9, 0.99)``, ``train.grad_clip=0``).
* TF1 initialisation: Glorot-uniform kernels (the LSTM's over its whole ``[x, h]`` kernel, its
  peepholes as TF treats a vector), zero biases, forget bias 1.  The attention scorer's bias is
  kept for the code's parameter count, though it cancels in the softmax over modalities.

The semantic input (``words``) is chosen by the trial's ``model.semantic``
(:mod:`sertext.features.semantic`): the paper's aligned Speech2Vec (default; speech only at
evaluation), Speech2Vec, Word2Vec, each trained per fold on its training utterances as the paper
trains them on SEWA's training partition, or pretrained vectors of the transcript's words
(``"vectors"``).  The public code's default instead reads a "cross-embedding" file of Word2Vec
mapped into the Speech2Vec space (the opposite direction to the paper's Eq. 1-3) that it does not
ship; sertext follows the paper.

Adaptations to IEMOCAP-style utterances (one speaker, utterance-level labels):

* a frame is the subject half only (``frame_samples`` 2,205; the paper's 4,410 adds the
  interlocutor half), see :mod:`sertext.features.frames`;
* the extractor needs ``n_frames · frame_samples`` to be a multiple of its total pooling (250), so
  the frames are zero-padded at the end up to the next such count (50 frames at 2,205 samples);
  activations past the utterance's end are zeroed after every conv, so an utterance's output does
  not depend on how much padding follows it (the code lets padded zeros pass through the biases);
* the per-frame outputs go through tanh mapped linearly onto ``output_range`` (IEMOCAP's 1–5; the
  paper's SEWA labels are in [−1, 1], which ``output_range=(-1, 1)`` reproduces), or stay linear
  with ``output_range=None`` (logits for classification);
* the utterance's output is the mean of its valid frames' outputs, so the CCC loss runs over
  utterances; the paper's runs over frames of 10 s sequences.

At the paper's settings (``frame_samples=4410``, ``word_dim=100``, 3 outputs) the hierarchical
attention model has 7,211,559 parameters, the single attention model 6,160,933 and the
concatenation model 6,684,196.
"""

from __future__ import annotations

import math

import torch
from torch import nn

INPUTS = ("waveform", "words")
FUSIONS = ("hierarchical", "attention", "concat")
CONV_LAYERS = ((1, 50, 8, 10), (50, 125, 6, 5), (125, 250, 6, 5))  # in, out, kernel, pool
TOTAL_POOL = math.prod(layer[3] for layer in CONV_LAYERS)  # 250 input samples per output step
PROJECTED = 1024  # both modalities are projected to this size before attention
BRANCH = 512  # each of the three "disentangled" branches
HIDDEN = 256  # LSTM units


class ParalinguisticExtractor(nn.Module):
    """``(B, T, F)`` waveform frames with ``lengths`` (B,) in frames → ``(B, T, F)`` learned features."""

    def __init__(self, *, dropout: float = 0.5, width: float = 1.0) -> None:
        super().__init__()
        # width scales the first two convs (quick demos); the last keeps 250 channels, which the
        # row-major reshape back to (T, frame_samples) needs (250 channels × 1/250 of the samples)
        channels = [1, *(max(1, round(c_out * width)) for _, c_out, _, _ in CONV_LAYERS[:-1]), CONV_LAYERS[-1][1]]
        self.convs = nn.ModuleList(nn.Conv1d(c_in, c_out, layer[2])
                                   for c_in, c_out, layer in zip(channels[:-1], channels[1:], CONV_LAYERS, strict=True))
        self.pools = tuple(layer[3] for layer in CONV_LAYERS)
        self.dropout = dropout

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, n_frames, frame_samples = waveform.shape
        padded_frames = _pooling_aligned_frames(n_frames, frame_samples)
        x = nn.functional.pad(waveform, (0, 0, 0, padded_frames - n_frames))
        x = x.reshape(batch, 1, padded_frames * frame_samples)  # (B, 1, L): frames concatenated
        valid = lengths.to(x.device) * frame_samples  # samples inside each utterance
        x = _zero_beyond(x, valid)
        for conv, pool in zip(self.convs, self.pools, strict=True):
            kernel = conv.kernel_size[0]
            x = nn.functional.pad(x, ((kernel - 1) // 2, kernel // 2))  # TF "same": the extra zero on the right
            x = _zero_beyond(torch.relu(conv(x)), valid)  # (B, C, L)
            x = nn.functional.max_pool1d(x, pool)  # (B, C, L / pool)
            valid = torch.div(valid + pool - 1, pool, rounding_mode="floor")
            x = nn.functional.dropout(x, p=self.dropout, training=self.training)
        x = x.transpose(1, 2).reshape(batch, padded_frames, frame_samples)  # row-major, as the code
        return x[:, :n_frames]


class ModalityAttention(nn.Module):
    """Softmax attention over two same-size vectors per frame with one shared scorer, scaled by
    1/√dim: returns the weighted sum and the weights ``(..., 2)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scorer = nn.Linear(dim, 1)  # the code's 1×dim "valid" conv

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stacked = torch.stack([first, second], dim=-2)  # (..., 2, dim)
        scores = self.scorer(stacked).squeeze(-1) / math.sqrt(stacked.shape[-1])  # (..., 2)
        weights = torch.softmax(scores, dim=-1)
        return (weights.unsqueeze(-1) * stacked).sum(dim=-2), weights


class AttentionFusion(nn.Module):
    """Eq. 4-5 alone: project both modalities to 1024 (ReLU, as the code's projections), attend over
    them, then one 512 layer (ReLU) so that the LSTM gets the width of the other fusions."""

    def __init__(self, frame_samples: int, word_dim: int) -> None:
        super().__init__()
        self.project_audio = nn.Linear(frame_samples, PROJECTED)
        self.project_words = nn.Linear(word_dim, PROJECTED)
        self.modalities = ModalityAttention(PROJECTED)
        self.output = nn.Linear(PROJECTED, BRANCH)

    def forward(self, audio: torch.Tensor, words: torch.Tensor) -> tuple[torch.Tensor, dict]:
        fused, modality_weights = self.modalities(torch.relu(self.project_audio(audio)),
                                                  torch.relu(self.project_words(words)))  # (B, T, 1024)
        return torch.relu(self.output(fused)), {"modalities": modality_weights}  # (B, T, 512)


class HierarchicalAttentionFusion(nn.Module):
    """The paper's disentangled attention (Eq. 4-7), the code's default fusion: project both
    modalities to 1024 (ReLU), attend over them, three 512 branches (ReLU), attend over branches 1
    and 2, then over that and branch 3."""

    def __init__(self, frame_samples: int, word_dim: int) -> None:
        super().__init__()
        self.project_audio = nn.Linear(frame_samples, PROJECTED)
        self.project_words = nn.Linear(word_dim, PROJECTED)
        self.modalities = ModalityAttention(PROJECTED)
        self.branches = nn.ModuleList(nn.Linear(PROJECTED, BRANCH) for _ in range(3))
        self.first_pair = ModalityAttention(BRANCH)
        self.second_pair = ModalityAttention(BRANCH)

    def forward(self, audio: torch.Tensor, words: torch.Tensor) -> tuple[torch.Tensor, dict]:
        fused, modality_weights = self.modalities(torch.relu(self.project_audio(audio)),
                                                  torch.relu(self.project_words(words)))  # (B, T, 1024)
        first, second, third = (torch.relu(branch(fused)) for branch in self.branches)  # (B, T, 512) each
        pair, pair_weights = self.first_pair(first, second)
        fused, final_weights = self.second_pair(pair, third)  # (B, T, 512)
        return fused, {"modalities": modality_weights, "branches": pair_weights, "final": final_weights}


class ConcatFusion(nn.Module):
    """The code's commented-out "FC" fusion: each modality FC 1024 (ReLU), concatenated, FC 512 (ReLU)."""

    def __init__(self, frame_samples: int, word_dim: int) -> None:
        super().__init__()
        self.project_audio = nn.Linear(frame_samples, PROJECTED)
        self.project_words = nn.Linear(word_dim, PROJECTED)
        self.combine = nn.Linear(2 * PROJECTED, BRANCH)

    def forward(self, audio: torch.Tensor, words: torch.Tensor) -> tuple[torch.Tensor, dict]:
        both = torch.cat([torch.relu(self.project_audio(audio)), torch.relu(self.project_words(words))], dim=-1)
        return torch.relu(self.combine(both)), {}  # (B, T, 512)


class SingleModality(nn.Module):
    """One network of the paper's Table 2 alone, the width of the fusions' output: its features FC
    1024 (ReLU), then FC 512 (ReLU), as the concatenation's layers with the other modality left out."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.project = nn.Linear(in_features, PROJECTED)
        self.output = nn.Linear(PROJECTED, BRANCH)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, dict]:
        return torch.relu(self.output(torch.relu(self.project(features)))), {}  # (B, T, 512)


_FUSION_MODULES = {"hierarchical": HierarchicalAttentionFusion, "attention": AttentionFusion, "concat": ConcatFusion}


class PeepholeLSTM(nn.Module):
    """One TF1 ``LSTMCell(use_peepholes=True, cell_clip=100)`` layer over ``(B, T, input_size)``;
    gates in TF's order i, j, f, o, forget bias 1 added to the forget gate."""

    def __init__(self, input_size: int, hidden_size: int, *, cell_clip: float = 100.0,
                 forget_bias: float = 1.0) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.cell_clip = cell_clip
        self.forget_bias = forget_bias
        self.input_gates = nn.Linear(input_size, 4 * hidden_size)  # with recurrent_gates: TF's [x, h] kernel
        self.recurrent_gates = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        self.peephole_input = nn.Parameter(torch.empty(hidden_size))
        self.peephole_forget = nn.Parameter(torch.empty(hidden_size))
        self.peephole_output = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters(input_size)

    def reset_parameters(self, input_size: int) -> None:
        """Glorot-uniform over the whole ``(input + hidden, 4·hidden)`` kernel, TF's fans for the
        peephole vectors (fan in = fan out = hidden), zero bias."""
        kernel_limit = math.sqrt(6 / (input_size + 5 * self.hidden_size))
        nn.init.uniform_(self.input_gates.weight, -kernel_limit, kernel_limit)
        nn.init.uniform_(self.recurrent_gates.weight, -kernel_limit, kernel_limit)
        nn.init.zeros_(self.input_gates.bias)
        for peephole in (self.peephole_input, self.peephole_forget, self.peephole_output):
            nn.init.uniform_(peephole, -math.sqrt(3 / self.hidden_size), math.sqrt(3 / self.hidden_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = self.input_gates(x)  # (B, T, 4H), computed for all steps at once
        h = x.new_zeros(x.shape[0], self.hidden_size)
        c = torch.zeros_like(h)
        outputs = []
        for step in range(x.shape[1]):
            i, j, f, o = (inputs[:, step] + self.recurrent_gates(h)).chunk(4, dim=-1)
            c = (torch.sigmoid(f + self.forget_bias + self.peephole_forget * c) * c
                 + torch.sigmoid(i + self.peephole_input * c) * torch.tanh(j))
            c = c.clamp(-self.cell_clip, self.cell_clip)
            h = torch.sigmoid(o + self.peephole_output * c) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1)  # (B, T, H)


class TzirakisModel(nn.Module):
    """``forward(waveform (B, T, frame_samples), waveform_lengths (B,), words (B, T, word_dim)) -> (B, n_outputs)``.

    ``waveform_lengths`` counts each utterance's frames; ``words`` lies on the same frame grid
    (``words_lengths``, if given, must equal ``waveform_lengths``).  See the module docstring for
    the layout and every deviation from the paper and its code.
    """

    def __init__(self, n_outputs: int = 3, *, fusion: str = "hierarchical", frame_samples: int = 2205,
                 word_dim: int = 100, output_range: tuple[float, float] | None = (1.0, 5.0),
                 width: float = 1.0, acoustic: bool = True, text: bool = True) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if not (acoustic or text):
            raise ValueError("at least one of acoustic (the paralinguistic network) and text (the semantic one)")
        if output_range is not None and not output_range[0] < output_range[1]:
            raise ValueError(f"output_range must be (low, high) with low < high, got {output_range}")
        self.frame_samples = frame_samples
        self.word_dim = word_dim
        self.output_range = output_range
        self.acoustic, self.text = acoustic, text
        self.paralinguistic = ParalinguisticExtractor(width=width) if acoustic else None
        if acoustic and text:
            self.fusion = _FUSION_MODULES[fusion](frame_samples, word_dim)
        else:
            self.fusion = SingleModality(frame_samples if acoustic else word_dim)
        self.lstm = PeepholeLSTM(BRANCH, HIDDEN)
        self.out = nn.Linear(HIDDEN, n_outputs)
        _init_glorot(self)

    def forward(self, waveform: torch.Tensor, waveform_lengths: torch.Tensor, words: torch.Tensor,
                words_lengths: torch.Tensor | None = None) -> torch.Tensor:
        fused, _ = self._fuse(waveform, waveform_lengths, words, words_lengths)  # (B, T, 512)
        per_frame = self._to_range(self.out(self.lstm(fused)))  # (B, T, n_outputs)
        lengths = waveform_lengths.to(per_frame.device)
        valid = torch.arange(per_frame.shape[1], device=per_frame.device) < lengths[:, None]  # (B, T)
        return (per_frame * valid.unsqueeze(-1)).sum(dim=1) / lengths[:, None]  # mean over valid frames

    @torch.no_grad()
    def attention_weights(self, waveform: torch.Tensor, waveform_lengths: torch.Tensor, words: torch.Tensor,
                          words_lengths: torch.Tensor | None = None) -> dict:
        """The attention weights per frame, each ``(B, T, 2)``: ``modalities`` (audio, words); with
        the hierarchical fusion also ``branches`` (branch 1, branch 2) and ``final`` (that result,
        branch 3).

        Raises:
            ValueError: for the concatenation fusion, which has none.
        """
        if isinstance(self.fusion, (ConcatFusion, SingleModality)):
            raise ValueError("the concat fusion and a single modality have no attention weights")
        return self._fuse(waveform, waveform_lengths, words, words_lengths)[1]

    def _fuse(self, waveform, waveform_lengths, words, words_lengths) -> tuple[torch.Tensor, dict]:
        _check_inputs(waveform, waveform_lengths, words, words_lengths, self.frame_samples, self.word_dim)
        if not self.acoustic:
            return self.fusion(words)
        audio = self.paralinguistic(waveform, waveform_lengths)  # (B, T, frame_samples)
        return self.fusion(audio, words) if self.text else self.fusion(audio)

    def _to_range(self, x: torch.Tensor) -> torch.Tensor:
        if self.output_range is None:
            return x
        low, high = self.output_range
        return low + (high - low) * (torch.tanh(x) + 1) / 2


def _pooling_aligned_frames(n_frames: int, frame_samples: int) -> int:
    """The smallest frame count ≥ ``n_frames`` whose samples fill whole pooling windows (250)."""
    step = TOTAL_POOL // math.gcd(frame_samples, TOTAL_POOL)
    return math.ceil(n_frames / step) * step


def _zero_beyond(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``x`` (B, C, L) with positions ≥ ``valid`` (B,) set to zero."""
    inside = torch.arange(x.shape[-1], device=x.device) < valid[:, None]  # (B, L)
    return x * inside.unsqueeze(1)


def _check_inputs(waveform, waveform_lengths, words, words_lengths, frame_samples: int, word_dim: int) -> None:
    if waveform.dim() != 3 or waveform.shape[-1] != frame_samples:
        raise ValueError(f"waveform must be (batch, frames, {frame_samples}), got {tuple(waveform.shape)}")
    if words.shape != (*waveform.shape[:2], word_dim):
        raise ValueError(f"words must be (batch, frames, {word_dim}) on the waveform's grid "
                         f"{tuple(waveform.shape[:2])}, got {tuple(words.shape)}")
    if words_lengths is not None and not torch.equal(words_lengths.cpu(), waveform_lengths.cpu()):
        raise ValueError("words_lengths must equal waveform_lengths (both count frames of one grid)")
    if bool((waveform_lengths < 1).any()) or bool((waveform_lengths > waveform.shape[1]).any()):
        raise ValueError(f"waveform_lengths must be in 1..{waveform.shape[1]}, got {waveform_lengths.tolist()}")


def _init_glorot(model: nn.Module) -> None:
    """TF defaults: Glorot-uniform kernels and zero biases for every conv and linear layer (the
    LSTM initialises itself)."""
    for name, layer in model.named_modules():
        if isinstance(layer, (nn.Conv1d, nn.Linear)) and not name.startswith("lstm."):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
