"""Makiuchi et al. (ASRU 2021): the cross-representation speech model and the text CNN.

The speech model (:class:`CrossRepresentationModel`, the public code's ``SpeechModel``) is an
AutoVC-style autoencoder: an encoder squeezes a layer-weighted average of wav2vec 2.0 states (or,
in the paper's ablation, the mel spectrogram) plus a speaker embedding through a BLSTM bottleneck
of d units per direction, downsampled every f frames; a decoder rebuilds the 80-bin mel from the
codes, the speaker embedding and a phone encoding; a linear classifier reads the codes.  The text
model (:class:`TextCNN`) is a 1-D CNN over token-level transformer states.  Layer by layer as in
docs/models.md (b); frames are 20 ms, segments 96 frames.

Input names (the features the trainer prepares; each model also carries its tuple as
``model.inputs``): ``INPUTS`` for the paper's wav2vec model, ``MEL_INPUTS`` for the mel-input
ablation, ``TEXT_INPUTS`` for the text CNN.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

INPUTS = ("wav2vec", "speaker", "phones", "mel_target")  # CrossRepresentationModel(input="wav2vec")
MEL_INPUTS = ("mel", "speaker", "phones")  # CrossRepresentationModel(input="mel"): mel is also the target
TEXT_INPUTS = ("text_states",)  # TextCNN

ENCODER_CHANNELS = {"wav2vec": 2048, "mel": 512}  # the public code widens the encoder for wav2vec
PHONE_CHANNELS = 512
PHONE_STATES = 128  # per direction, so the phone encoding is 256-d
DECODER_CHANNELS = 512
DECODER_STATES = 1024
POSTNET_CHANNELS = 512
CLASSIFIER_UNITS = 128


def scaled(units: int, width: float) -> int:
    """A hidden width times the multiplier ``width`` (at least 1); ``width=1`` is the paper's model."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return max(1, round(units * width))


def conv_norm(in_channels: int, out_channels: int, *, gain: str) -> nn.Sequential:
    """AutoVC's ``ConvNorm`` + BatchNorm: Conv1d k5 pad 2, Xavier-uniform weight with the gain of
    the activation that follows (the bias keeps PyTorch's default init)."""
    conv = nn.Conv1d(in_channels, out_channels, kernel_size=5, padding=2)
    nn.init.xavier_uniform_(conv.weight, gain=nn.init.calculate_gain(gain))
    return nn.Sequential(conv, nn.BatchNorm1d(out_channels))


def segment_utterances(features: torch.Tensor, lengths: torch.Tensor, *,
                       segment_frames: int) -> tuple[torch.Tensor, list[int]]:
    """Cut padded utterances into the paper's evaluation segments.

    Each utterance gives its non-overlapping ``segment_frames``-frame segments, plus the remainder
    zero-padded if it is longer than 1 frame (a 1-frame remainder is dropped).  An utterance of a
    single frame still gives one (padded) segment, so no utterance goes without a score.

    Args:
        features: (B, T, F) frames, padded after each utterance's length.
        lengths: (B,) number of real frames per utterance, in [1, T].
        segment_frames: frames per segment.

    Returns:
        segments (N, segment_frames, F) in utterance order, and the number of segments per utterance.

    Raises:
        ValueError: for a length outside [1, T].
    """
    total_frames = features.shape[1]
    segments, counts = [], []
    for index, length in enumerate(lengths.tolist()):
        if not 1 <= length <= total_frames:
            raise ValueError(f"utterance {index} has length {length}; expected 1..{total_frames} frames")
        n_full, remainder = divmod(length, segment_frames)
        n_segments = max(1, n_full + int(remainder > 1))
        kept = features[index, :min(length, n_segments * segment_frames)]
        padded = F.pad(kept, (0, 0, 0, n_segments * segment_frames - kept.shape[0]))
        segments.append(padded.reshape(n_segments, segment_frames, -1))
        counts.append(n_segments)
    return torch.cat(segments), counts


class LayerAverage(nn.Module):
    """Σ_l α_l·h_l / Σ_l α_l over the wav2vec layers (paper Eq. 1): the learnable α start at 1 and
    are only sum-normalised, not passed through a softmax, so they may go negative."""

    def __init__(self, n_layers: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.ones(n_layers))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        # states: (B, L, T, F) -> (B, T, F)
        return torch.einsum("bltf,l->btf", states, self.weights) / self.weights.sum()


class Encoder(nn.Module):
    """3× [ConvNorm k5 + ReLU] on [features ; speaker], a 2-layer BLSTM of ``bottleneck`` units per
    direction, then AutoVC's downsampling: code i = [forward state at frame i+f−1 ; backward state at
    frame i] for i = 0, f, 2f, …"""

    def __init__(self, in_dim: int, channels: int, bottleneck: int, downsample: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            conv_norm(in_dim if i == 0 else channels, channels, gain="relu") for i in range(3))
        self.lstm = nn.LSTM(channels, bottleneck, num_layers=2, batch_first=True, bidirectional=True)
        self.bottleneck = bottleneck
        self.downsample = downsample

    def forward(self, features: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        # features: (B, T, F), speaker: (B, S) -> codes (B, T/f, 2d)
        speaker_frames = speaker[:, None, :].expand(-1, features.shape[1], -1)
        x = torch.cat([features, speaker_frames], dim=2).transpose(1, 2)  # (B, F+S, T)
        for conv in self.convs:
            x = torch.relu(conv(x))  # (B, C, T)
        states, _ = self.lstm(x.transpose(1, 2))  # (B, T, 2d)
        f, d = self.downsample, self.bottleneck
        return torch.cat([states[:, f - 1::f, :d], states[:, ::f, d:]], dim=2)


class PhoneEncoder(nn.Module):
    """One-hot phones → 3× [ConvNorm k5 + ReLU] → 2-layer BLSTM; (B, T, n_phones) → (B, T, 2·states)."""

    def __init__(self, n_phones: int, channels: int, states: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            conv_norm(n_phones if i == 0 else channels, channels, gain="relu") for i in range(3))
        self.lstm = nn.LSTM(channels, states, num_layers=2, batch_first=True, bidirectional=True)

    def forward(self, one_hot: torch.Tensor) -> torch.Tensor:
        x = one_hot.transpose(1, 2)  # (B, n_phones, T)
        for conv in self.convs:
            x = torch.relu(conv(x))
        states, _ = self.lstm(x.transpose(1, 2))
        return states


class Decoder(nn.Module):
    """AutoVC's decoder with a wider input: LSTM → 3× [ConvNorm k5 + ReLU] → 2-layer LSTM → linear to mel."""

    def __init__(self, in_dim: int, channels: int, states: int, n_mels: int) -> None:
        super().__init__()
        self.lstm1 = nn.LSTM(in_dim, channels, num_layers=1, batch_first=True)
        self.convs = nn.ModuleList(conv_norm(channels, channels, gain="relu") for _ in range(3))
        self.lstm2 = nn.LSTM(channels, states, num_layers=2, batch_first=True)
        self.projection = nn.Linear(states, n_mels)
        nn.init.xavier_uniform_(self.projection.weight, gain=nn.init.calculate_gain("linear"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = self.lstm1(x)  # (B, T, C)
        x = x.transpose(1, 2)
        for conv in self.convs:
            x = torch.relu(conv(x))
        x, _ = self.lstm2(x.transpose(1, 2))  # (B, T, states)
        return self.projection(x)  # (B, T, n_mels)


class Postnet(nn.Module):
    """Five ConvNorm k5 layers (n_mels → C → C → C → C → n_mels), tanh after the first four; the
    caller adds the result to the decoder output."""

    def __init__(self, n_mels: int, channels: int) -> None:
        super().__init__()
        sizes = [n_mels, channels, channels, channels, channels, n_mels]
        self.convs = nn.ModuleList(
            conv_norm(sizes[i], sizes[i + 1], gain="tanh" if i < 4 else "linear") for i in range(5))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = mel.transpose(1, 2)  # (B, n_mels, T)
        for conv in self.convs[:-1]:
            x = torch.tanh(conv(x))
        return self.convs[-1](x).transpose(1, 2)  # (B, T, n_mels)


class CrossRepresentationModel(nn.Module):
    """Makiuchi et al.'s speech model: wav2vec 2.0 (or mel) → bottleneck codes → emotion logits,
    with mel reconstruction from the codes, the speaker embedding and the phones as a training aid.

    ``forward(*, speaker (B, 256), wav2vec (B, n_layers, T, feature_dim) | mel (B, T, 80),
    phones (B, T) ids in [0, n_phones), mel_target (B, T, 80), wav2vec_lengths | mel_lengths (B,))``

    - ``train()``: T must be ``segment_frames`` (the trainer crops); returns ``(logits (B, n_outputs),
      auxiliary_loss)`` with auxiliary_loss = MSE(mel_target, decoder) + MSE(mel_target, decoder +
      postnet), unit weights; the trainer adds cross-entropy on the logits.
    - ``eval()``: whole utterances, optionally padded with ``<input>_lengths``; each is cut by
      :func:`segment_utterances` and the output is the log of the mean segment softmax posterior,
      so a softmax of it is the paper's utterance posterior.  Only the encoder and classifier run,
      so ``phones`` and ``mel_target`` may be left out.

    ``input="mel"`` is the paper's ablation: the mel is the encoder input (512-wide encoder convs,
    no pretrained model at all) and also the reconstruction target, so the model reads ``mel``
    alone (``mel_target``, if given, replaces it as the target).  ``width`` scales every hidden
    width except the bottleneck (``width=1`` is the paper's model; smaller ones are for demos and
    tests).  Parameters with 4 outputs: Small (d=8, f=48) 84,427,101; Large (d=128, f=2) 88,979,549;
    mel ablation (d=8, f=48) 32,746,308.

    Follows the paper and the public code (mmakiuchi/multimodal_emotion_recognition), which agree
    on the layers; where they differ or the paper is silent, sertext chose:

    - Layer weights are sum-normalised, not softmax-normalised (code and Eq. 1 agree).
    - The classifier is Linear→Linear→Dropout 0.5→Linear with **no activations** (the code's
      ``use_sigmoid=False``), so it is linear plus dropout; the paper's text names no activation.
    - No AutoVC code-consistency L1 loss (the code has none; the paper lists only L_r1, L_r2, L_e).
    - Emotion loss: the plain cross-entropy of the paper's Eq. 3 (code alike; the trainer's registry
      entry sets ``class_weights="none"``, unlike the CNN14 paper's weighted CE).
    - Utterance score: the mean of segment softmaxes as in the paper (the code's evaluation sums
      them, same argmax).  The code scores an utterance with no segment (1 frame) as wrong; sertext
      gives it one zero-padded segment.
    - Init as the code's ``ConvNorm``/``LinearNorm``: Xavier-uniform with gain relu (encoder, phone
      encoder, decoder convs), tanh (postnet 1–4), linear (last postnet conv, decoder projection);
      LSTMs, BN, biases and the classifier keep PyTorch defaults.
    """

    def __init__(self, n_outputs: int, *, input: str = "wav2vec", bottleneck: int = 8, downsample: int = 48,
                 segment_frames: int = 96, n_layers: int = 25, feature_dim: int = 1024, speaker_dim: int = 256,
                 n_phones: int = 128, n_mels: int = 80, width: float = 1.0) -> None:
        super().__init__()
        if input not in ENCODER_CHANNELS:
            raise ValueError(f"input must be one of {sorted(ENCODER_CHANNELS)}, got {input!r}")
        if segment_frames % downsample:
            raise ValueError(f"downsample ({downsample}) must divide segment_frames ({segment_frames})")
        self.input = input
        self.inputs = INPUTS if input == "wav2vec" else MEL_INPUTS
        self.downsample = downsample
        self.segment_frames = segment_frames
        self.n_phones = n_phones
        self.n_mels = n_mels
        self.n_code_dims = segment_frames // downsample * 2 * bottleneck
        self.layer_average = LayerAverage(n_layers) if input == "wav2vec" else None
        speech_dim = feature_dim if input == "wav2vec" else n_mels
        self.encoder = Encoder(speech_dim + speaker_dim, scaled(ENCODER_CHANNELS[input], width), bottleneck,
                               downsample)
        phone_states = scaled(PHONE_STATES, width)
        self.phone_encoder = PhoneEncoder(n_phones, scaled(PHONE_CHANNELS, width), phone_states)
        self.decoder = Decoder(2 * bottleneck + speaker_dim + 2 * phone_states, scaled(DECODER_CHANNELS, width),
                               scaled(DECODER_STATES, width), n_mels)
        self.postnet = Postnet(n_mels, scaled(POSTNET_CHANNELS, width))
        hidden = scaled(CLASSIFIER_UNITS, width)
        self.classifier = nn.Sequential(nn.Linear(self.n_code_dims, hidden), nn.Linear(hidden, hidden),
                                        nn.Dropout(0.5), nn.Linear(hidden, n_outputs))

    def forward(self, *, speaker: torch.Tensor, wav2vec: torch.Tensor | None = None, mel: torch.Tensor | None = None,
                phones: torch.Tensor | None = None, mel_target: torch.Tensor | None = None,
                wav2vec_lengths: torch.Tensor | None = None,
                mel_lengths: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        features = self.speech_features(wav2vec=wav2vec, mel=mel)  # (B, T, F)
        if self.training:
            target = mel if mel_target is None else mel_target
            return self._train_outputs(features, speaker, phones, target)
        lengths = wav2vec_lengths if self.input == "wav2vec" else mel_lengths
        if lengths is None:
            lengths = torch.full((features.shape[0],), features.shape[1], dtype=torch.long)
        return self._utterance_log_posteriors(features, speaker, lengths)

    def codes(self, *, speaker: torch.Tensor, wav2vec: torch.Tensor | None = None,
              mel: torch.Tensor | None = None) -> torch.Tensor:
        """The bottleneck codes of ``segment_frames``-frame segments, (B, n_code_dims) with
        n_code_dims = segment_frames / f · 2d, in the code's order [code_0 ; code_1 ; …] (each
        [forward ; backward]).  Inputs are segments, as in training (the speaker-identification
        probe of the paper's Table 3 reads those of every evaluation segment: :meth:`utterance_codes`)."""
        features = self.speech_features(wav2vec=wav2vec, mel=mel)
        self._check_segment(features)
        return self.encoder(features, speaker).flatten(1)

    def utterance_codes(self, *, speaker: torch.Tensor, wav2vec: torch.Tensor | None = None,
                        mel: torch.Tensor | None = None,
                        lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, list[int]]:
        """The codes of every evaluation segment of whole utterances (cut by
        :func:`segment_utterances`, as for the emotion posteriors): ``(N, n_code_dims)`` in utterance
        order, and the number of segments per utterance.  The paper's speaker-identification probe
        (Table 3) is trained and scored on these."""
        features = self.speech_features(wav2vec=wav2vec, mel=mel)
        if lengths is None:
            lengths = torch.full((features.shape[0],), features.shape[1], dtype=torch.long)
        return self._segment_codes(features, speaker, lengths)

    def speech_features(self, *, wav2vec: torch.Tensor | None, mel: torch.Tensor | None) -> torch.Tensor:
        """The encoder's speech input (B, T, F): the wav2vec layer average or the mel itself.

        Raises:
            ValueError: if the model's input is missing or the other one is given.
        """
        given = {"wav2vec": wav2vec, "mel": mel}
        other = "mel" if self.input == "wav2vec" else "wav2vec"
        if given[self.input] is None or given[other] is not None:
            raise ValueError(f"this model (input={self.input!r}) reads {self.input!r} and not {other!r}")
        return self.layer_average(wav2vec) if self.input == "wav2vec" else mel

    def _check_segment(self, features: torch.Tensor) -> None:
        if features.shape[1] != self.segment_frames:
            raise ValueError(f"expected {self.segment_frames}-frame segments, got {features.shape[1]} frames "
                             "(in train mode the trainer crops; in eval mode forward segments whole utterances)")

    def _train_outputs(self, features: torch.Tensor, speaker: torch.Tensor, phones: torch.Tensor | None,
                       target: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_segment(features)
        if phones is None or target is None:
            raise ValueError(f"training needs phones and the mel target ({', '.join(self.inputs)})")
        if target.shape != (*features.shape[:2], self.n_mels):
            raise ValueError(f"mel target shape {tuple(target.shape)}; expected {(*features.shape[:2], self.n_mels)}")
        codes = self.encoder(features, speaker)  # (B, T/f, 2d)
        logits = self.classifier(codes.flatten(1))  # (B, n_outputs)
        frames = features.shape[1]
        phone_states = self.phone_encoder(F.one_hot(phones, self.n_phones).to(features.dtype))  # (B, T, 256)
        decoder_input = torch.cat([codes.repeat_interleave(self.downsample, dim=1),  # (B, T, 2d)
                                   speaker[:, None, :].expand(-1, frames, -1), phone_states], dim=2)
        mel = self.decoder(decoder_input)  # (B, T, n_mels)
        refined = mel + self.postnet(mel)
        return logits, F.mse_loss(mel, target) + F.mse_loss(refined, target)

    def _segment_codes(self, features: torch.Tensor, speaker: torch.Tensor,
                       lengths: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        segments, counts = segment_utterances(features, lengths, segment_frames=self.segment_frames)
        segment_speakers = speaker.repeat_interleave(torch.tensor(counts, device=speaker.device), dim=0)
        return self.encoder(segments, segment_speakers).flatten(1), counts  # (N, T/f · 2d)

    def _utterance_log_posteriors(self, features: torch.Tensor, speaker: torch.Tensor,
                                  lengths: torch.Tensor) -> torch.Tensor:
        codes, counts = self._segment_codes(features, speaker, lengths)
        log_posteriors = torch.log_softmax(self.classifier(codes), dim=1)  # (N, n_outputs)
        return torch.stack([torch.logsumexp(group, dim=0) - math.log(len(group))
                            for group in log_posteriors.split(counts)])  # log of the mean posterior


class TextCNN(nn.Module):
    """Makiuchi et al.'s text model: a 1-D CNN over token states, ``forward(text_states (B, max_tokens,
    feature_dim)) -> (B, n_outputs)``.

    Conv1d F→256 k1, 256→256 k1, 256→128 k8, 128→64 k4, all with padding 1 and ReLU (time on the
    conv axis: 122 → 124 → 126 → 121 → 120 tokens), AvgPool1d over ``max_tokens − 4`` positions
    (the code's 118 at 122 tokens, so exactly one window that skips the last two), Linear 64 →
    n_outputs.  PyTorch default init.  ``feature_dim`` is 1024 for the paper's bert-large-uncased
    and 384 for the offline MiniLM.  The code's trimming of [CLS] and one PAD row belongs to the
    feature extractor, not to this model.

    **Outputs.**  The paper (§3.2: "trained on the cross-entropy loss defined in Equation (3)",
    and a softmax of the logits at inference) trains cross-entropy on softmax(z), so by default
    (``sigmoid_outputs=False``) the model returns z.  The public code (DIFF/quirk) passes sigmoid(z)
    to ``CrossEntropyLoss``, i.e. uses the sigmoids as logits, and its fusion takes
    softmax(sigmoid(z)), which compresses the text posteriors (max ratio e); its published fusion
    weights (w1=0.6, w2=1) were tuned on those flat posteriors.  ``sigmoid_outputs=True``
    (``model.sigmoid_outputs``) returns sigmoid(z) as the "logits": the trainer's cross-entropy then
    reproduces the code's training, and a softmax of the output is the code's fusion posterior.

    Trained with plain (unweighted) cross-entropy, the paper's Eq. 3 (registry
    ``class_weights="none"``), on the paper's token states, without special tokens
    (:mod:`sertext.features.token_states`).
    """

    def __init__(self, n_outputs: int, *, feature_dim: int = 1024, max_tokens: int = 122,
                 sigmoid_outputs: bool = False) -> None:
        super().__init__()
        if max_tokens < 7:
            raise ValueError(f"max_tokens must be at least 7 for one pooling window, got {max_tokens}")
        self.inputs = TEXT_INPUTS
        self.max_tokens = max_tokens
        self.sigmoid_outputs = sigmoid_outputs
        self.conv1 = nn.Conv1d(feature_dim, 256, kernel_size=1, padding=1)
        self.conv2 = nn.Conv1d(256, 256, kernel_size=1, padding=1)
        self.conv3 = nn.Conv1d(256, 128, kernel_size=8, padding=1)
        self.conv4 = nn.Conv1d(128, 64, kernel_size=4, padding=1)
        self.pool = nn.AvgPool1d(max_tokens - 4)
        self.fc = nn.Linear(64, n_outputs)

    def forward(self, text_states: torch.Tensor) -> torch.Tensor:
        if text_states.shape[1] != self.max_tokens:
            raise ValueError(f"expected {self.max_tokens} token rows (zero-padded), got {text_states.shape[1]}")
        x = text_states.transpose(1, 2)  # (B, F, M)
        x = torch.relu(self.conv1(x))  # (B, 256, M+2)
        x = torch.relu(self.conv2(x))  # (B, 256, M+4)
        x = torch.relu(self.conv3(x))  # (B, 128, M-1)
        x = torch.relu(self.conv4(x))  # (B, 64, M-2)
        z = self.fc(self.pool(x)[:, :, 0])  # one window of M-4 positions -> (B, n_outputs)
        return torch.sigmoid(z) if self.sigmoid_outputs else z
