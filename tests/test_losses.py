"""Losses against hand-computed values and sertext.metrics.ccc."""

import numpy as np
import pytest
import torch

from sertext.losses import ccc_loss, ccc_per_target, inverse_frequency_weights
from sertext.metrics import ccc


def test_inverse_frequency_weights_by_hand():
    weights = inverse_frequency_weights([0, 0, 0, 1, 2, 2], 3)
    assert torch.allclose(weights, torch.tensor([6 / 9, 6 / 3, 6 / 6]))
    with pytest.raises(ValueError, match="every class"):
        inverse_frequency_weights([0, 0], 2)


def test_ccc_per_target_matches_the_metric():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(50, 3))
    prediction = truth * 0.5 + rng.normal(size=(50, 3))
    ours = ccc_per_target(torch.tensor(truth), torch.tensor(prediction))
    assert np.allclose(ours.numpy(), [ccc(truth[:, i], prediction[:, i]) for i in range(3)], atol=1e-12)


def test_ccc_loss_by_hand():
    truth = torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 3.0]])
    prediction = torch.tensor([[1.0, 3.0], [2.0, 3.0], [3.0, 3.0]])
    # Target 1 is predicted perfectly (CCC 1).  Target 2: means 3 and 3, var_t 2/3, var_p 0, cov 0.
    assert ccc_loss(truth, prediction, [1, 0]).item() == pytest.approx(0.0)
    assert ccc_loss(truth, prediction, [0, 1]).item() == pytest.approx(1.0)
    assert ccc_loss(truth, prediction, [3, 1]).item() == pytest.approx(1 - 3 / 4)


def test_ccc_loss_weights_are_validated():
    with pytest.raises(ValueError, match="one non-negative weight per target"):
        ccc_loss(torch.zeros(4, 2), torch.zeros(4, 2), [1.0])
    with pytest.raises(ValueError):
        ccc_loss(torch.zeros(4, 2), torch.zeros(4, 2), [0.0, 0.0])
