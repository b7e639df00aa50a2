"""Tzirakis et al.: shapes, attention weights, padding, the TF1 peephole LSTM, parameter counts."""

import math

import numpy as np
import pytest
import torch

from sertext.models.tzirakis import INPUTS, PeepholeLSTM, TzirakisModel
from tests.fixtures import count_parameters


def _inputs(lengths, *, frame_samples=250, word_dim=8, n_frames=None, seed=0):
    """Random padded inputs; the padding holds noise too, which the model must ignore."""
    generator = torch.Generator().manual_seed(seed)
    n_frames = n_frames or max(lengths)
    return {
        "waveform": torch.randn(len(lengths), n_frames, frame_samples, generator=generator),
        "waveform_lengths": torch.tensor(lengths),
        "words": torch.randn(len(lengths), n_frames, word_dim, generator=generator),
    }


@pytest.mark.parametrize("fusion", ["hierarchical", "attention", "concat"])
def test_output_shape_and_range(fusion):
    torch.manual_seed(0)
    model = TzirakisModel(4, fusion=fusion, frame_samples=250, word_dim=8).eval()
    out = model(**_inputs([5, 2, 3]))
    assert INPUTS == ("waveform", "words")
    assert out.shape == (3, 4) and ((out > 1) & (out < 5)).all()


def test_default_frames_of_2205_samples_any_length():
    model = TzirakisModel(3).eval()  # 2205-sample frames: padded inside to 50 frames
    for n_frames in (1, 7):
        out = model(**_inputs([n_frames], frame_samples=2205, word_dim=100))
        assert out.shape == (1, 3) and torch.isfinite(out).all()


def test_output_range_maps_tanh_linearly():
    torch.manual_seed(0)
    raw = TzirakisModel(2, frame_samples=250, word_dim=8, output_range=None).eval()
    mapped = TzirakisModel(2, frame_samples=250, word_dim=8, output_range=(-2.0, 6.0)).eval()
    mapped.load_state_dict(raw.state_dict())
    inputs = _inputs([1, 1])  # one frame: the mean over frames is that frame's output
    assert torch.allclose(mapped(**inputs), -2.0 + 8.0 * (torch.tanh(raw(**inputs)) + 1) / 2, atol=1e-6)


def test_attention_weights_are_distributions_over_two_inputs():
    model = TzirakisModel(3, frame_samples=250, word_dim=8).eval()
    weights = model.attention_weights(**_inputs([4, 2]))
    assert sorted(weights) == ["branches", "final", "modalities"]
    for value in weights.values():
        assert value.shape == (2, 4, 2) and (value > 0).all()
        assert torch.allclose(value.sum(dim=-1), torch.ones(2, 4))
    single = TzirakisModel(3, fusion="attention", frame_samples=250, word_dim=8).eval()
    assert sorted(single.attention_weights(**_inputs([4, 2]))) == ["modalities"]
    with pytest.raises(ValueError, match="no attention weights"):
        TzirakisModel(3, fusion="concat", frame_samples=250, word_dim=8).attention_weights(**_inputs([2]))


@pytest.mark.parametrize("fusion", ["hierarchical", "attention", "concat"])
def test_padding_does_not_change_an_utterance(fusion):
    torch.manual_seed(0)
    # 105-sample frames need the same padding to 50 frames as 2205-sample ones (gcd with 250 is 5),
    # and split the extractor's 250-channel steps across rows, at a CPU cost a test can afford.
    model = TzirakisModel(3, fusion=fusion, frame_samples=105, word_dim=8).eval()
    for conv in model.paralinguistic.convs:
        torch.nn.init.normal_(conv.bias, std=0.1)  # nonzero biases, as after training: padding would show
    batch = _inputs([3, 7], frame_samples=105, n_frames=60)
    together = model(**batch)
    for i, length in enumerate((3, 7)):
        alone = model(waveform=batch["waveform"][i:i + 1, :length], waveform_lengths=torch.tensor([length]),
                      words=batch["words"][i:i + 1, :length])
        assert torch.allclose(alone, together[i:i + 1], atol=1e-5)


def test_inputs_are_checked():
    model = TzirakisModel(3, frame_samples=250, word_dim=8)
    inputs = _inputs([3, 2])
    with pytest.raises(ValueError, match="words must be"):
        model(**{**inputs, "words": inputs["words"][:, :2]})
    with pytest.raises(ValueError, match="words_lengths must equal"):
        model(**inputs, words_lengths=torch.tensor([3, 3]))
    with pytest.raises(ValueError, match="waveform_lengths must be"):
        model(**{**inputs, "waveform_lengths": torch.tensor([4, 2])})
    with pytest.raises(ValueError, match="fusion must be"):
        TzirakisModel(3, fusion="sum")


def test_the_trial_config_offers_the_models_fusions():
    from sertext.config import FUSIONS as CONFIG_FUSIONS
    from sertext.models.tzirakis import FUSIONS

    assert CONFIG_FUSIONS == FUSIONS


def _tf_peephole_lstm(x, kernel, bias, w_i, w_f, w_o, *, clip=100.0, forget_bias=1.0):
    """TF1 ``LSTMCell(use_peepholes=True, cell_clip)``: one kernel over [x, h], gates i, j, f, o."""
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    hidden = len(bias) // 4
    h, c, outputs = np.zeros((x.shape[0], hidden)), np.zeros((x.shape[0], hidden)), []
    for t in range(x.shape[1]):
        i, j, f, o = np.split(np.concatenate([x[:, t], h], axis=1) @ kernel + bias, 4, axis=1)
        c = sigmoid(f + forget_bias + w_f * c) * c + sigmoid(i + w_i * c) * np.tanh(j)
        c = np.clip(c, -clip, clip)
        h = sigmoid(o + w_o * c) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def test_peephole_lstm_matches_the_tf_cell_equations():
    torch.manual_seed(0)
    lstm = PeepholeLSTM(5, 4, cell_clip=0.5)
    torch.nn.init.normal_(lstm.input_gates.bias)
    x = torch.randn(2, 6, 5) * 3
    kernel = torch.cat([lstm.input_gates.weight, lstm.recurrent_gates.weight], dim=1).T  # (5 + 4, 16)
    expected = _tf_peephole_lstm(x.double().numpy(), kernel.double().detach().numpy(),
                                 lstm.input_gates.bias.double().detach().numpy(),
                                 *(p.double().detach().numpy() for p in
                                   (lstm.peephole_input, lstm.peephole_forget, lstm.peephole_output)), clip=0.5)
    assert np.allclose(lstm(x).detach().numpy(), expected, atol=1e-5)


def _paper_parameter_count(fusion: str, *, frame_samples=4410, word_dim=100, n_outputs=3) -> int:
    """From docs/models.md (c): layers as (inputs, outputs) with a bias each."""
    dense = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731
    convs = dense(1 * 8, 50) + dense(50 * 6, 125) + dense(125 * 6, 250)
    if fusion == "hierarchical":
        fusion_count = (dense(frame_samples, 1024) + dense(word_dim, 1024) + dense(1024, 1)  # projections, scorer
                        + 3 * dense(1024, 512) + 2 * dense(512, 1))  # branches, two pairwise scorers
    elif fusion == "attention":
        fusion_count = (dense(frame_samples, 1024) + dense(word_dim, 1024) + dense(1024, 1)  # projections, scorer
                        + dense(1024, 512))  # the layer to the LSTM's width
    else:
        fusion_count = dense(frame_samples, 1024) + dense(word_dim, 1024) + dense(2048, 512)
    lstm = dense(512 + 256, 4 * 256) + 3 * 256  # TF LSTMCell: one kernel over [x, h], one bias, 3 peepholes
    return convs + fusion_count + lstm + dense(256, n_outputs)


@pytest.mark.parametrize(("fusion", "documented"), [("hierarchical", 7_211_559), ("attention", 6_160_933),
                                                    ("concat", 6_684_196)])
def test_parameter_count_at_the_papers_settings(fusion, documented):
    model = TzirakisModel(3, fusion=fusion, frame_samples=4410, word_dim=100)
    assert count_parameters(model) == _paper_parameter_count(fusion) == documented  # the count in the module docstring


def test_gradients_are_finite_and_reach_every_layer():
    torch.manual_seed(0)
    model = TzirakisModel(3, frame_samples=250, word_dim=8).train()
    model(**_inputs([4, 2])).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert model.lstm.peephole_forget.grad.abs().sum() > 0
    assert model.paralinguistic.convs[0].weight.grad.abs().sum() > 0
    assert math.isclose(model.fusion.modalities.scorer.bias.grad.item(), 0.0, abs_tol=1e-6)  # cancels in softmax


@pytest.mark.parametrize(("acoustic", "text"), [(True, False), (False, True)])
def test_one_network_alone_reads_only_its_own_input(acoustic, text):
    """Table 2's rows: the paralinguistic network alone ignores the semantic frames, the semantic
    network alone has no waveform extractor and ignores the waveform."""
    torch.manual_seed(0)
    model = TzirakisModel(3, frame_samples=500, word_dim=6, width=0.1, acoustic=acoustic, text=text).eval()
    assert (model.paralinguistic is not None) == acoustic
    waveform, words, lengths = torch.randn(2, 4, 500), torch.randn(2, 4, 6), torch.tensor([4, 3])
    out = model(waveform, lengths, words)
    assert out.shape == (2, 3)
    changed = model(torch.randn(2, 4, 500), lengths, words) if text else model(waveform, lengths, torch.randn(2, 4, 6))
    assert torch.allclose(out, changed)
    with pytest.raises(ValueError, match="have no attention weights"):
        model.attention_weights(waveform, lengths, words)
    with pytest.raises(ValueError, match="at least one of acoustic"):
        TzirakisModel(3, acoustic=False, text=False)
