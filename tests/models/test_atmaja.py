"""Atmaja & Akagi model: parameter count from the layer list, shapes, variants, packing, init, gradients."""

import pytest
import torch

from sertext.losses import ccc_loss
from sertext.models.atmaja import INPUTS, AtmajaModel
from tests.fixtures import count_parameters


def _lstm(inputs, units):
    """PyTorch LSTM: four gates of input and recurrent weights, and two bias vectors (b_ih, b_hh).
    Keras' CuDNNLSTM (the public code) has the same 8·units biases; a plain Keras LSTM has 4·units."""
    return 4 * units * inputs + 4 * units * units + 8 * units


def _dense(inputs, units):
    return inputs * units + units


def _acoustic_branch(f):
    return 2 * f + _lstm(f, f) + _lstm(f, 256) + _lstm(256, 256) + _dense(256, 64)  # BN: weight and bias


def _text_branch(d):
    return _lstm(d, d) + _lstm(d, 256) + _lstm(256, 256) + _dense(256, 64)


def test_parameter_count_at_the_papers_settings():
    fusion = _dense(128, 64) + _dense(64, 32)
    expected = _acoustic_branch(68) + _text_branch(300) + fusion + _dense(32, 3)
    assert count_parameters(AtmajaModel(3)) == expected == 2_761_291
    assert count_parameters(AtmajaModel(3, text=False)) == _acoustic_branch(68) + _dense(64, 3)
    assert count_parameters(AtmajaModel(3, acoustic=False, word_dim=768, text_units=300)) == (
        _lstm(768, 300) + _lstm(300, 256) + _lstm(256, 256) + _dense(256, 64) + _dense(64, 3))


def _inputs(batch=3, steps=7, word_dim=12, acoustic_dim=10, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {"acoustic": torch.randn(batch, acoustic_dim, generator=generator),
            "words": torch.randn(batch, steps, word_dim, generator=generator),
            "words_lengths": torch.tensor([steps, 2, 5][:batch])}


@pytest.fixture(scope="module")
def model():
    """A multitask model on small inputs (the LSTM sizes stay the paper's)."""
    torch.manual_seed(0)
    return AtmajaModel(3, acoustic_dim=10, word_dim=12).eval()


def test_multitask_and_single_task_shapes(model):
    assert INPUTS == ("acoustic", "words") == model.inputs
    assert model(**_inputs()).shape == (3, 3)
    assert AtmajaModel(1, acoustic_dim=10, word_dim=12).eval()(**_inputs()).shape == (3, 1)


def test_unimodal_variants_read_only_their_input():
    inputs = _inputs()
    acoustic_only = AtmajaModel(3, acoustic_dim=10, text=False).eval()
    text_only = AtmajaModel(3, word_dim=12, acoustic=False).eval()
    assert acoustic_only.inputs == ("acoustic",) and text_only.inputs == ("words",)
    assert acoustic_only(acoustic=inputs["acoustic"]).shape == (3, 3)
    assert text_only(words=inputs["words"], words_lengths=inputs["words_lengths"]).shape == (3, 3)
    with pytest.raises(ValueError, match="needs the text branch"):
        AtmajaModel(3, text=False, acoustic=False)


def test_padding_does_not_change_the_output(model):
    inputs = _inputs()
    batched = model(**inputs)
    for i, length in enumerate(inputs["words_lengths"].tolist()):
        alone = model(acoustic=inputs["acoustic"][i:i + 1], words=inputs["words"][i:i + 1, :length],
                      words_lengths=torch.tensor([length]))
        torch.testing.assert_close(batched[i:i + 1], alone, atol=1e-6, rtol=1e-5)
    unpadded = model(acoustic=inputs["acoustic"][1:2], words=inputs["words"][1:2, :2])  # lengths default: all
    torch.testing.assert_close(batched[1:2], unpadded, atol=1e-6, rtol=1e-5)


def test_missing_input_and_bad_lengths_are_rejected(model):
    inputs = _inputs()
    with pytest.raises(ValueError, match="'words' input"):
        model(acoustic=inputs["acoustic"])
    inputs["words_lengths"] = torch.tensor([7, 0, 5])
    with pytest.raises(ValueError, match="words_lengths"):
        model(**inputs)


def test_keras_style_initialisation(model):
    assert model.acoustic_norm.momentum == 0.01 and model.acoustic_norm.eps == 1e-3
    lstm = model.text_lstms[1]
    expected_hh = torch.zeros(4 * 256)
    expected_hh[256:512] = 1.0
    assert torch.equal(lstm.bias_hh_l0.detach(), expected_hh) and not lstm.bias_ih_l0.detach().any()
    recurrent = lstm.weight_hh_l0.detach()
    torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(256), atol=1e-5, rtol=0)
    assert not model.out.bias.detach().any()


def test_training_step_has_finite_gradients_everywhere():
    torch.manual_seed(0)
    model = AtmajaModel(3, acoustic_dim=10, word_dim=12).train()
    output = model(**_inputs())
    assert isinstance(output, torch.Tensor) and output.shape == (3, 3)  # no auxiliary loss
    ccc_loss(torch.randn(3, 3), output, (0.7, 0.2, 0.1)).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
