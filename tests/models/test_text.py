"""The fine-tuned text baseline."""

import pytest
import torch

from sertext.models import build


def test_text_classifier_shapes_and_padding_invariance():
    model = build("text", n_outputs=4, width=0.5).eval()  # width does not apply and is ignored
    batch = model.tokenize(["Hi.", "This is a much longer sentence for padding."])
    out = model(**batch)
    assert out.shape == (2, 4)
    alone = model(**model.tokenize(["Hi."]))
    assert torch.allclose(out[:1], alone, atol=1e-5)


def test_max_tokens_truncates():
    model = build("text", n_outputs=2, max_tokens=8)
    assert model.tokenize(["word " * 50])["input_ids"].shape[1] == 8


def test_bert_adamw_matches_two_steps_computed_by_hand():
    """Adam with decoupled weight decay and no bias correction (Hugging Face's
    ``AdamW(correct_bias=False)``, the text paper's optimiser), two steps by hand."""
    import math

    from sertext.models.text import BertAdamW

    lr, beta1, beta2, eps, decay = 0.1, 0.9, 0.999, 1e-6, 0.01
    weight = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    optimizer = BertAdamW([weight], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=decay)
    expected, m, v = [1.0, -2.0], [0.0, 0.0], [0.0, 0.0]
    for gradient in ([0.5, -3.0], [-1.0, 2.0]):
        weight.grad = torch.tensor(gradient, dtype=torch.float64)
        optimizer.step()
        for i, g in enumerate(gradient):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            expected[i] -= lr * m[i] / (math.sqrt(v[i]) + eps)  # no division by 1 − β^t
            expected[i] -= lr * decay * expected[i]  # decoupled decay, after the update
        assert weight.tolist() == pytest.approx(expected, rel=1e-12)
    # torch's AdamW corrects the bias: its first step is about lr, this one's about 3.16·lr
    corrected = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    plain = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    optimizers = [torch.optim.AdamW([corrected], lr=lr, eps=eps, weight_decay=0.0), BertAdamW([plain], lr=lr)]
    for parameter, optimiser in zip((corrected, plain), optimizers, strict=True):
        parameter.grad = torch.tensor([1.0], dtype=torch.float64)
        optimiser.step()
    assert 1 - corrected.item() == pytest.approx(lr, rel=1e-4)
    assert 1 - plain.item() == pytest.approx(lr * (1 - beta1) / math.sqrt(1 - beta2), rel=1e-4)
    with pytest.raises(ValueError, match="betas"):
        BertAdamW([plain], betas=(0.9, 1.0))
