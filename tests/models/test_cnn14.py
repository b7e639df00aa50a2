"""CNN14 family: published parameter count, shapes, conditioning, batching, checkpoints."""

import pytest
import torch

from sertext.models import build
from sertext.models.cnn14 import CNN14
from tests.fixtures import count_parameters


def test_parameter_count_matches_panns():
    model = build("cnn14", n_outputs=4)
    assert count_parameters(model) == 79_681_988
    assert sum(p.numel() for n, p in model.named_parameters() if not n.startswith("out.")) == 79_673_792


def test_fusion_models_add_only_their_projections():
    text_dim = 768
    cnn, sf, mf = (build(a, n_outputs=4, text_dim=text_dim) for a in ("cnn14", "sfcnn14", "mfcnn14"))
    assert count_parameters(sf) - count_parameters(cnn) == text_dim * 2048 + 2048
    channels = (64, 128, 256, 512, 1024, 2048)
    assert count_parameters(mf) - count_parameters(cnn) == sum(text_dim * c + c for c in channels)


@pytest.mark.parametrize("frames", [37, 100, 501])
@pytest.mark.parametrize("arch", ["cnn14", "sfcnn14", "mfcnn14"])
def test_variable_length_input(arch, frames):
    model = build(arch, n_outputs=3, width=0.0625, text_dim=8).eval()
    out = model(torch.randn(2, frames, 64), text=torch.randn(2, 8))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


def test_mfcnn14_with_zero_projections_is_cnn14_and_text_matters():
    torch.manual_seed(0)
    cnn = build("cnn14", n_outputs=4, width=0.125).eval()
    mf = build("mfcnn14", n_outputs=4, width=0.125, text_dim=16).eval()
    missing = mf.load_state_dict(cnn.state_dict(), strict=False).missing_keys
    assert all(k.startswith("text_projections.") for k in missing)
    for projection in mf.text_projections:
        torch.nn.init.zeros_(projection.weight)
    x = torch.randn(3, 120, 64)
    text = torch.randn(3, 16)
    assert torch.equal(mf(x, text), cnn(x))
    torch.nn.init.normal_(mf.text_projections[2].weight)
    assert not torch.allclose(mf(x, text), mf(x, torch.randn(3, 16)))


def test_sfcnn14_output_depends_on_text():
    model = build("sfcnn14", n_outputs=4, width=0.125, text_dim=16).eval()
    x = torch.randn(2, 80, 64)
    assert not torch.allclose(model(x, torch.randn(2, 16)), model(x, torch.randn(2, 16)))
    with pytest.raises(ValueError, match="needs a text embedding"):
        model(x)


def test_eval_batch_equals_item_by_item():
    model = build("mfcnn14", n_outputs=4, width=0.125, text_dim=16).eval()
    x, text = torch.randn(4, 90, 64), torch.randn(4, 16)
    batched = model(x, text)
    single = torch.cat([model(x[i:i + 1], text[i:i + 1]) for i in range(4)])
    assert torch.allclose(batched, single, atol=1e-5)


def test_panns_checkpoint_initialises_trunk(tmp_path):
    torch.manual_seed(1)
    source = CNN14(527)
    state = {}
    for key, value in source.state_dict().items():  # PANNs names: conv_block1 … conv_block6
        if key.startswith("blocks."):
            _, number, rest = key.split(".", 2)
            key = f"conv_block{int(number) + 1}.{rest}"
        state[key] = value
    path = tmp_path / "Cnn14_16k.pth"
    torch.save({"model": state}, path)
    model = build("cnn14", n_outputs=4, pretrained=str(path))
    assert torch.equal(model.blocks[3].conv1.weight, source.blocks[3].conv1.weight)
    assert torch.equal(model.fc1.weight, source.fc1.weight)
    assert model.out.weight.shape == (4, 2048)
    with pytest.raises(ValueError, match="does not fit"):
        build("cnn14", n_outputs=4, width=0.5, pretrained=str(path))


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture"):
        build("resnet", n_outputs=4)
    with pytest.raises(ValueError, match="needs text_dim"):
        build("mfcnn14", n_outputs=4)


def test_blocks_max_pool_as_the_paper_by_default_and_average_pool_as_panns():
    """The multistage paper's Eq. 3 (H3 = MaxPool(H2)); PANNs' code average-pools."""
    torch.manual_seed(0)
    x = torch.randn(2, 1, 40, 64)
    model = build("cnn14", n_outputs=4, width=0.0625)
    panns = build("cnn14", n_outputs=4, width=0.0625, pooling="avg")
    panns.load_state_dict(model.state_dict())
    block, average = model.blocks[0].eval(), panns.blocks[0].eval()
    activations = torch.relu(block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x))))))
    assert torch.equal(block(x), torch.nn.functional.max_pool2d(activations, 2))
    assert torch.equal(average(x), torch.nn.functional.avg_pool2d(activations, 2))
    assert all(b.pooling == "max" for b in model.blocks) and not model.blocks[-1].pool
    for arch in ("sfcnn14", "mfcnn14"):
        assert build(arch, n_outputs=4, width=0.0625, text_dim=8, pooling="avg").blocks[2].pooling == "avg"
        assert build(arch, n_outputs=4, width=0.0625, text_dim=8).blocks[2].pooling == "max"
    with pytest.raises(ValueError, match="pooling must be one of"):
        build("cnn14", n_outputs=4, width=0.0625, pooling="median")
