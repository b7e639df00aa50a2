"""Training losses: weighted cross-entropy, MSE and the multitask CCC loss."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def inverse_frequency_weights(labels: Sequence[int], n_classes: int) -> torch.Tensor:
    """Class weights N / (K · n_c) for weighted cross-entropy (1 for every class when balanced).

    Examples:
        >>> inverse_frequency_weights([0, 0, 0, 1], 2).tolist()
        [0.6666666865348816, 2.0]
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(np.float64)
    if (counts == 0).any():
        raise ValueError(f"every class needs training examples; counts per class: {counts.tolist()}")
    return torch.tensor(counts.sum() / (n_classes * counts), dtype=torch.float32)


def ccc_per_target(truth: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Concordance correlation per column of ``(batch, targets)`` tensors, population moments."""
    truth_mean, prediction_mean = truth.mean(dim=0), prediction.mean(dim=0)
    covariance = ((truth - truth_mean) * (prediction - prediction_mean)).mean(dim=0)
    denominator = truth.var(dim=0, unbiased=False) + prediction.var(dim=0, unbiased=False) \
        + (truth_mean - prediction_mean) ** 2
    return 2 * covariance / denominator.clamp(min=1e-10)


def ccc_loss(truth: torch.Tensor, prediction: torch.Tensor, weights: Sequence[float]) -> torch.Tensor:
    """Multitask CCC loss 1 − Σ wᵢ·CCCᵢ / Σ wᵢ over the batch (the paper's eq. 6, weights α, β, γ).

    Args:
        truth, prediction: ``(batch, targets)``.
        weights: one non-negative weight per target, not all zero.
    """
    w = torch.as_tensor(weights, dtype=prediction.dtype, device=prediction.device)
    if w.shape != (prediction.shape[1],) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"need one non-negative weight per target, not all zero; got {list(weights)}")
    return 1 - (w * ccc_per_target(truth, prediction)).sum() / w.sum()
