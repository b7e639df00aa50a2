"""The fine-tuned text baseline."""

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
