"""A small linear probe: L2-regularised logistic regression, in torch (no scikit-learn).

Features are centred on the training mean and divided by one scalar, the training items' spread
(sqrt of the mean squared distance to their mean), so the penalty means the same whatever the
layer's scale or width: `l2` is lambda in  mean log-loss + lambda / 2 * ||w||^2  on features whose
mean squared norm is 1. Fitted with L-BFGS in float64 (the problem is strictly convex: the same
data always gives the same probe).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class LogisticProbe:
    mean: np.ndarray  # [D] training mean
    scale: float  # training spread
    weight: np.ndarray  # [D] on standardised features
    bias: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Log-odds of the positive class for rows of `x` [N, D] (raw features)."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return z @ self.weight + self.bias

    def direction(self) -> np.ndarray:
        """The probe's weight in the raw feature space, unit norm (the steering direction it
        offers: moving a raw vector along it raises the logit fastest)."""
        raw = self.weight / self.scale
        norm = float(np.linalg.norm(raw))
        return raw / norm if norm > 0 else raw


def spread(x: np.ndarray) -> float:
    """sqrt(mean_i ||x_i - mean||^2): the typical distance of a row from the rows' mean."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(((x - x.mean(0)) ** 2).sum(1).mean()))


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 0.01, max_iter: int = 200
) -> LogisticProbe:
    """Fit P(y=1 | x) = sigmoid(w . z + b), z the standardised x (see the module doc)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"fit_logistic: x {x.shape} and y {y.shape} do not match")
    if not (set(np.unique(y)) <= {0.0, 1.0}) or len(np.unique(y)) != 2:
        raise ValueError("fit_logistic: y needs both classes, coded 0 and 1")
    if l2 <= 0:
        raise ValueError(f"fit_logistic: l2 must be > 0, got {l2}")
    mean = x.mean(0)
    scale = spread(x) or 1.0
    z = torch.from_numpy((x - mean) / scale)
    t = torch.from_numpy(y)
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-10, line_search_fn="strong_wolfe"
    )

    def loss_fn():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, t)
        loss = loss + 0.5 * l2 * (w @ w)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(loss_fn)
    return LogisticProbe(
        mean=mean, scale=float(scale), weight=w.detach().numpy().copy(), bias=float(b.detach())
    )
