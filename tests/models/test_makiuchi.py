"""Makiuchi et al.'s speech model and text CNN: parameter counts from the layer list in
docs/models.md (b), train/eval outputs, evaluation segmenting, codes, layer average, gradients."""

import pytest
import torch
from torch.nn import functional as F

from sertext.models.makiuchi import INPUTS, MEL_INPUTS, CrossRepresentationModel, TextCNN
from tests.fixtures import count_parameters

TINY = dict(width=1 / 32, n_layers=3, feature_dim=12, speaker_dim=8)  # fast stand-in for the paper's widths
SEGMENT = 96


def _conv(n_in, n_out, kernel):
    return n_in * n_out * kernel + n_out


def _conv_bn(n_in, n_out):
    return _conv(n_in, n_out, 5) + 2 * n_out  # ConvNorm k5 + BatchNorm affine


def _lstm(n_in, hidden, layers, *, bidirectional):
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(layers):
        layer_in = n_in if layer == 0 else hidden * directions
        total += directions * (4 * hidden * (layer_in + hidden) + 8 * hidden)
    return total


def _linear(n_in, n_out):
    return n_in * n_out + n_out


def _speech_model_count(*, encoder_in, encoder_channels, d, f, layer_weights, n_outputs=4):
    """The paper's speech model, counted from the layer list (speaker 256, phones 128, mel 80)."""
    encoder = (_conv_bn(encoder_in + 256, encoder_channels) + 2 * _conv_bn(encoder_channels, encoder_channels)
               + _lstm(encoder_channels, d, 2, bidirectional=True))
    phones = _conv_bn(128, 512) + 2 * _conv_bn(512, 512) + _lstm(512, 128, 2, bidirectional=True)
    decoder = (_lstm(2 * d + 256 + 256, 512, 1, bidirectional=False) + 3 * _conv_bn(512, 512)
               + _lstm(512, 1024, 2, bidirectional=False) + _linear(1024, 80))
    postnet = _conv_bn(80, 512) + 3 * _conv_bn(512, 512) + _conv_bn(512, 80)
    codes = SEGMENT // f * 2 * d
    classifier = _linear(codes, 128) + _linear(128, 128) + _linear(128, n_outputs)
    return layer_weights + encoder + phones + decoder + postnet + classifier


@pytest.mark.parametrize("options, expected_codes, expected", [
    ({}, 32, _speech_model_count(encoder_in=1024, encoder_channels=2048, d=8, f=48, layer_weights=25)),
    ({"bottleneck": 128, "downsample": 2}, 12_288,
     _speech_model_count(encoder_in=1024, encoder_channels=2048, d=128, f=2, layer_weights=25)),
    ({"input": "mel"}, 32, _speech_model_count(encoder_in=80, encoder_channels=512, d=8, f=48, layer_weights=0)),
], ids=["small", "large", "mel"])
def test_parameter_counts_follow_the_layer_list(options, expected_codes, expected):
    with torch.device("meta"):
        model = CrossRepresentationModel(4, **options)
    assert count_parameters(model) == expected
    assert model.n_code_dims == expected_codes


def _inputs(input, batch, frames, *, generator):
    """Random inputs for the TINY model: a layer stack or a mel, speaker, phones and mel target."""
    mel = torch.rand(batch, frames, 80, generator=generator)
    speech = (torch.randn(batch, TINY["n_layers"], frames, TINY["feature_dim"], generator=generator)
              if input == "wav2vec" else mel)
    inputs = {input: speech, "speaker": torch.randn(batch, TINY["speaker_dim"], generator=generator),
              "phones": torch.randint(0, 128, (batch, frames), generator=generator)}
    if input == "wav2vec":
        inputs["mel_target"] = mel
    return inputs


@pytest.mark.parametrize("input", ["wav2vec", "mel"])
def test_train_and_eval_outputs(input):
    generator = torch.Generator().manual_seed(0)
    model = CrossRepresentationModel(4, input=input, **TINY)
    assert model.inputs == (INPUTS if input == "wav2vec" else MEL_INPUTS)
    logits, auxiliary_loss = model.train()(**_inputs(input, 2, SEGMENT, generator=generator))
    assert logits.shape == (2, 4) and auxiliary_loss.shape == () and auxiliary_loss > 0
    log_posteriors = model.eval()(**_inputs(input, 3, 150, generator=generator))
    assert log_posteriors.shape == (3, 4)
    assert torch.allclose(log_posteriors.exp().sum(dim=1), torch.ones(3))


@pytest.mark.parametrize("input", ["wav2vec", "mel"])
def test_auxiliary_loss_is_both_reconstruction_errors(input):
    generator = torch.Generator().manual_seed(1)
    model = CrossRepresentationModel(4, input=input, **TINY).train()
    captured = {}
    model.decoder.register_forward_hook(lambda module, args, out: captured.update(decoder=out))
    model.postnet.register_forward_hook(lambda module, args, out: captured.update(postnet=out))
    inputs = _inputs(input, 2, SEGMENT, generator=generator)
    _, auxiliary_loss = model(**inputs)
    target = inputs["mel_target" if input == "wav2vec" else "mel"]
    expected = F.mse_loss(captured["decoder"], target) + F.mse_loss(captured["decoder"] + captured["postnet"], target)
    assert torch.allclose(auxiliary_loss, expected)


def _pad_frames(speech, frames):
    """Zero-pad the time axis (dim -2 of a (B, T, F) mel or a (B, L, T, F) layer stack) to ``frames``."""
    return F.pad(speech, (0, 0, 0, frames - speech.shape[-2]))


def _segment_posterior(model, input, speech, speaker):
    return torch.softmax(model.classifier(model.codes(**{input: speech}, speaker=speaker)), dim=1)


@pytest.mark.parametrize("input", ["wav2vec", "mel"])
def test_eval_is_log_mean_of_segment_posteriors(input):
    generator = torch.Generator().manual_seed(2)
    model = CrossRepresentationModel(4, input=input, **TINY).eval()
    inputs = _inputs(input, 1, 250, generator=generator)
    speech, speaker = inputs[input], inputs["speaker"]
    time = speech.dim() - 2
    pieces = [speech.narrow(time, 0, 96), speech.narrow(time, 96, 96), _pad_frames(speech.narrow(time, 192, 58), 96)]
    with torch.no_grad():
        expected = torch.stack([_segment_posterior(model, input, p, speaker) for p in pieces]).mean(dim=0).log()
        assert torch.allclose(model(**inputs), expected, atol=1e-6)
        # a remainder of one frame is dropped: 193 frames score as their first 192
        two_segments = {input: speech.narrow(time, 0, 192), "speaker": speaker}
        assert torch.allclose(model(**{**two_segments, input: speech.narrow(time, 0, 193)}), model(**two_segments))


def test_padded_batch_equals_item_by_item():
    generator = torch.Generator().manual_seed(3)
    model = CrossRepresentationModel(4, **TINY).eval()
    inputs = _inputs("wav2vec", 3, 250, generator=generator)
    lengths = torch.tensor([250, 193, 1])
    with torch.no_grad():
        batched = model(wav2vec=inputs["wav2vec"], speaker=inputs["speaker"], wav2vec_lengths=lengths)
        single = torch.cat([model(wav2vec=inputs["wav2vec"][i:i + 1, :, :n], speaker=inputs["speaker"][i:i + 1])
                            for i, n in enumerate(lengths.tolist())])
    assert torch.allclose(batched, single, atol=1e-6)


@pytest.mark.parametrize("bottleneck, downsample, expected", [(8, 48, 32), (128, 2, 12_288)], ids=["small", "large"])
def test_codes_have_the_documented_size(bottleneck, downsample, expected):
    generator = torch.Generator().manual_seed(4)
    model = CrossRepresentationModel(4, bottleneck=bottleneck, downsample=downsample, **TINY).eval()
    inputs = _inputs("wav2vec", 2, SEGMENT, generator=generator)
    with torch.no_grad():
        codes = model.codes(wav2vec=inputs["wav2vec"], speaker=inputs["speaker"])
    assert codes.shape == (2, expected)


def test_codes_follow_the_autovc_downsampling_rule():
    generator = torch.Generator().manual_seed(5)
    model = CrossRepresentationModel(4, input="mel", bottleneck=3, downsample=48, **TINY).eval()
    captured = {}
    model.encoder.lstm.register_forward_hook(lambda module, args, out: captured.update(states=out[0]))
    inputs = _inputs("mel", 1, SEGMENT, generator=generator)
    with torch.no_grad():
        codes = model.codes(mel=inputs["mel"], speaker=inputs["speaker"])
    states = captured["states"][0]  # (96, 2·3): forward then backward units
    expected = torch.cat([states[47, :3], states[0, 3:], states[95, :3], states[48, 3:]])
    assert torch.equal(codes[0], expected)


def test_layer_average_is_sum_normalised():
    model = CrossRepresentationModel(4, **TINY)
    with torch.no_grad():
        model.layer_average.weights.copy_(torch.tensor([2.0, -1.0, 3.0]))
    states = torch.stack([torch.full((5, 12), value) for value in (1.0, 4.0, 10.0)])[None]  # (1, 3, 5, 12)
    expected = (2 * 1 - 1 * 4 + 3 * 10) / (2 - 1 + 3)  # 7.0; a softmax of the weights would give about 8.9
    assert torch.allclose(model.layer_average(states), torch.full((1, 5, 12), expected))


def test_fresh_layer_average_is_the_plain_mean():
    model = CrossRepresentationModel(4, **TINY)
    states = torch.randn(2, 3, 7, 12)
    assert torch.allclose(model.layer_average(states), states.mean(dim=1), atol=1e-6)


@pytest.mark.parametrize("input", ["wav2vec", "mel"])
def test_training_loss_gives_finite_gradients_everywhere(input):
    generator = torch.Generator().manual_seed(6)
    model = CrossRepresentationModel(4, input=input, **TINY).train()
    logits, auxiliary_loss = model(**_inputs(input, 2, SEGMENT, generator=generator))
    (F.cross_entropy(logits, torch.tensor([0, 3])) + auxiliary_loss).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


def test_bad_inputs_are_rejected():
    generator = torch.Generator().manual_seed(7)
    model = CrossRepresentationModel(4, **TINY).train()
    with pytest.raises(ValueError, match="96-frame segments"):
        model(**_inputs("wav2vec", 2, 100, generator=generator))
    with pytest.raises(ValueError, match="reads 'wav2vec'"):
        model(**_inputs("mel", 2, SEGMENT, generator=generator))
    with pytest.raises(ValueError, match="must divide"):
        CrossRepresentationModel(4, downsample=40)
    with pytest.raises(ValueError, match="input must be"):
        CrossRepresentationModel(4, input="spec")


def test_text_cnn_keeps_one_pooled_window():
    model = TextCNN(4)
    lengths = []
    for layer in (model.conv1, model.conv2, model.conv3, model.conv4, model.pool):
        layer.register_forward_hook(lambda module, args, out: lengths.append(out.shape[-1]))
    assert model(torch.randn(2, 122, 1024)).shape == (2, 4)
    assert lengths == [124, 126, 121, 120, 1]
    expected = _conv(1024, 256, 1) + _conv(256, 256, 1) + _conv(256, 128, 8) + _conv(128, 64, 4) + _linear(64, 4)
    assert count_parameters(model) == expected == 623_556


def test_text_cnn_returns_the_papers_logits_by_default_and_the_codes_sigmoids_as_an_option():
    """The paper (Eq. 3, §3.2) trains cross-entropy on the logits z; the public code on sigmoid(z)."""
    torch.manual_seed(8)
    paper = TextCNN(4, feature_dim=384, max_tokens=20)
    quirk = TextCNN(4, feature_dim=384, max_tokens=20, sigmoid_outputs=True)
    torch.nn.init.normal_(paper.fc.weight, std=10.0)  # logits well outside (0, 1)
    quirk.load_state_dict(paper.state_dict())
    states = torch.randn(3, 20, 384)
    logits = paper(states)
    assert not ((logits > 0) & (logits < 1)).all()
    assert torch.equal(logits, paper.fc(paper.pool(_text_cnn_features(paper, states))[:, :, 0]))
    assert torch.allclose(quirk(states), torch.sigmoid(logits))
    with pytest.raises(ValueError, match="expected 20 token rows"):
        paper(torch.randn(3, 19, 384))


def _text_cnn_features(model, states):
    x = states.transpose(1, 2)
    for conv in (model.conv1, model.conv2, model.conv3, model.conv4):
        x = torch.relu(conv(x))
    return x


@pytest.mark.parametrize("speech", ["wav2vec", "mel"])
def test_utterance_codes_are_the_codes_of_every_evaluation_segment(speech):
    """The speaker probe's codes: each whole utterance cut as for its emotion posterior (96-frame
    segments, a remainder over 1 frame zero-padded), each segment's codes as ``codes`` gives them."""
    torch.manual_seed(3)
    model = CrossRepresentationModel(4, input=speech, bottleneck=4, downsample=48, **TINY).eval()
    lengths = torch.tensor([250, 96])  # 2 full segments + a 58-frame remainder; exactly one segment
    frames = int(lengths.max())
    name = speech
    features = torch.randn(2, 3, frames, 12) if speech == "wav2vec" else torch.randn(2, frames, 80)
    speaker = torch.randn(2, 8)
    with torch.no_grad():
        codes, counts = model.utterance_codes(speaker=speaker, lengths=lengths, **{name: features})
        assert counts == [3, 1] and codes.shape == (4, model.n_code_dims)
        time_axis = 2 if speech == "wav2vec" else 1
        for row, (utterance, start) in enumerate([(0, 0), (0, 96), (0, 192), (1, 0)]):
            length = min(96, int(lengths[utterance]) - start)
            segment = features[utterance:utterance + 1].narrow(time_axis, start, length)
            segment = F.pad(segment, (0, 0, 0, 96 - segment.shape[time_axis]))
            expected = model.codes(speaker=speaker[utterance:utterance + 1], **{name: segment})
            assert torch.allclose(codes[row], expected[0], atol=1e-5)
