"""A small Gaussian process for the unit cube, with hyperparameters fitted by MAP.

Kernel: Matern 5/2 with one length-scale per dimension (ARD), so irrelevant parameters get
long length-scales and stop mattering. Categorical dimensions enter the same distance as
0 (same category) or 1 (different), scaled by their own length-scale: an overlap kernel
that never pretends categories are ordered.

Length-scales have a log-normal prior centred on the cube's width. A centre growing with
sqrt(dimension) (Hvarfner et al., 2024) was measured and rejected: its long length-scales
smoothed Hartmann6 and Levy away at 30 to 100 runs (docs/search.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize
from scipy.spatial import distance

SQRT5 = math.sqrt(5.0)
JITTER = 1e-8
# Log-normal prior on length-scales: centred on 1 (the cube's width), spread 0.7 in log space.
LENGTHSCALE_PRIOR_SIGMA = 0.7
# Noise variance (targets are standardised): prior centred near 1e-3, bounded below by 1e-6.
NOISE_PRIOR_MU, NOISE_PRIOR_SIGMA = math.log(1e-3), 2.0
NOISE_BOUNDS = (math.log(1e-6), math.log(0.5))
SIGNAL_BOUNDS = (math.log(0.05), math.log(20.0))
LENGTHSCALE_BOUNDS = (math.log(1e-2), math.log(1e3))


def squared_differences(a: np.ndarray, b: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Per-dimension squared distance, shape (len(a), len(b), d); categoricals 0 or 1."""
    diff = a[:, None, :] - b[None, :, :]
    sq = diff * diff
    if categorical.any():
        sq[:, :, categorical] = (diff[:, :, categorical] != 0).astype(float)
    return sq


def ard_distances(
    a: np.ndarray, b: np.ndarray, categorical: np.ndarray, lengthscales: np.ndarray
) -> np.ndarray:
    """The length-scaled distance between each row of a and each row of b, as
    `squared_differences` would give it, without the (len(a), len(b), d) array: cdist does
    the continuous part in C (the candidates' kernel is the bulk of a suggestion's time)."""
    continuous = ~categorical
    scale = lengthscales[continuous]
    r2 = distance.cdist(a[:, continuous] / scale, b[:, continuous] / scale, "sqeuclidean")
    for j in np.flatnonzero(categorical):
        r2 += (a[:, j, None] != b[None, :, j]) / lengthscales[j] ** 2
    return np.sqrt(r2)


def _matern(r: np.ndarray) -> np.ndarray:
    return (1.0 + SQRT5 * r + (5.0 / 3.0) * r * r) * np.exp(-SQRT5 * r)


@dataclass
class Hyperparameters:
    lengthscales: np.ndarray
    signal: float  # signal variance
    noise: float  # noise variance

    def to_vector(self) -> np.ndarray:
        return np.concatenate(
            [np.log(self.lengthscales), [math.log(self.signal)], [math.log(self.noise)]]
        )

    @classmethod
    def from_vector(cls, theta: np.ndarray) -> Hyperparameters:
        return cls(np.exp(theta[:-2]), float(np.exp(theta[-2])), float(np.exp(theta[-1])))


def _negative_log_posterior(
    theta: np.ndarray, sq: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """-log p(y | theta) - log p(theta), and its gradient in theta (log-parameters)."""
    n, d = len(y), sq.shape[2]
    hp = Hyperparameters.from_vector(theta)
    scaled = sq / (hp.lengthscales**2)
    r = np.sqrt(np.maximum(scaled.sum(axis=2), 0.0))
    exp_term = np.exp(-SQRT5 * r)
    k_signal = hp.signal * (1.0 + SQRT5 * r + (5.0 / 3.0) * r * r) * exp_term
    k = k_signal + (hp.noise + JITTER) * np.eye(n)
    try:
        chol = linalg.cholesky(k, lower=True)
    except linalg.LinAlgError:
        return 1e10, np.zeros_like(theta)
    alpha = linalg.cho_solve((chol, True), y)
    nll = 0.5 * y @ alpha + np.log(np.diag(chol)).sum() + 0.5 * n * math.log(2 * math.pi)

    k_inv = linalg.cho_solve((chol, True), np.eye(n))
    w = k_inv - np.outer(alpha, alpha)
    # dK/dlog(l_j) = signal * 5/3 * (1 + sqrt5 r) exp(-sqrt5 r) * sq_j / l_j^2
    common = hp.signal * (5.0 / 3.0) * (1.0 + SQRT5 * r) * exp_term
    grad = np.empty_like(theta)
    grad[:d] = 0.5 * np.einsum("ij,ijk->k", w * common, scaled)
    grad[d] = 0.5 * np.sum(w * k_signal)
    grad[d + 1] = 0.5 * hp.noise * np.trace(w)

    # Priors (log-normal on length-scales and noise), as penalties on the log-parameters.
    log_l = theta[:d]
    nll += 0.5 * np.sum(log_l**2) / LENGTHSCALE_PRIOR_SIGMA**2
    grad[:d] += log_l / LENGTHSCALE_PRIOR_SIGMA**2
    nll += 0.5 * (theta[d] / 1.0) ** 2  # signal variance near 1 (targets are standardised)
    grad[d] += theta[d]
    nll += 0.5 * ((theta[d + 1] - NOISE_PRIOR_MU) / NOISE_PRIOR_SIGMA) ** 2
    grad[d + 1] += (theta[d + 1] - NOISE_PRIOR_MU) / NOISE_PRIOR_SIGMA**2
    return float(nll), grad


def fit_hyperparameters(
    x: np.ndarray, y: np.ndarray, categorical: np.ndarray, max_iter: int = 40
) -> Hyperparameters:
    """MAP hyperparameters for standardised targets y at points x."""
    d = x.shape[1]
    start = Hyperparameters(
        lengthscales=np.ones(d),
        signal=1.0,
        noise=1e-3,
    ).to_vector()
    bounds = [LENGTHSCALE_BOUNDS] * d + [SIGNAL_BOUNDS, NOISE_BOUNDS]
    sq = squared_differences(x, x, categorical)
    result = optimize.minimize(
        _negative_log_posterior,
        start,
        args=(sq, y),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter},
    )
    return Hyperparameters.from_vector(result.x)


class GaussianProcess:
    """The posterior given fixed hyperparameters; cheap to re-condition on more points."""

    def __init__(self, x: np.ndarray, y: np.ndarray, categorical: np.ndarray, hp: Hyperparameters):
        self.x, self.y, self.categorical, self.hp = x, y, categorical, hp
        k = self._kernel(x, x) + (hp.noise + JITTER) * np.eye(len(x))
        self._chol = linalg.cholesky(k, lower=True)
        self._alpha = linalg.cho_solve((self._chol, True), y)

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        r = ard_distances(a, b, self.categorical, self.hp.lengthscales)
        return self.hp.signal * _matern(r)

    def predict(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (of the latent function) at points."""
        k_star = self._kernel(points, self.x)
        mean = k_star @ self._alpha
        v = linalg.solve_triangular(self._chol, k_star.T, lower=True)
        var = np.maximum(self.hp.signal - np.sum(v * v, axis=0), 1e-12)
        return mean, np.sqrt(var)

    def predict_with_gradient(
        self, points: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, std and their gradients in the points' coordinates (shape (m, d); zero
        along categorical dimensions, which are not differentiable)."""
        diff = points[:, None, :] - self.x[None, :, :]
        sq = diff * diff
        cat = self.categorical
        if cat.any():
            sq[:, :, cat] = (diff[:, :, cat] != 0).astype(float)
        inv_l2 = 1.0 / self.hp.lengthscales**2
        r = np.sqrt(np.maximum((sq * inv_l2).sum(axis=2), 0.0))
        exp_term = np.exp(-SQRT5 * r)
        k_star = self.hp.signal * (1.0 + SQRT5 * r + (5.0 / 3.0) * r * r) * exp_term
        # dk/dx_j = -signal * 5/3 * (1 + sqrt5 r) exp(-sqrt5 r) * (x_j - X_j) / l_j^2
        dk = -(self.hp.signal * (5.0 / 3.0) * (1.0 + SQRT5 * r) * exp_term)[:, :, None] * (
            diff * inv_l2
        )
        if cat.any():
            dk[:, :, cat] = 0.0
        mean = k_star @ self._alpha
        d_mean = np.einsum("mnd,n->md", dk, self._alpha)
        v = linalg.solve_triangular(self._chol, k_star.T, lower=True)
        k_inv_k = linalg.solve_triangular(self._chol, v, lower=True, trans="T").T  # (m, n)
        var = np.maximum(self.hp.signal - np.sum(v * v, axis=0), 1e-12)
        std = np.sqrt(var)
        d_var = -2.0 * np.einsum("mnd,mn->md", dk, k_inv_k)
        return mean, std, d_mean, d_var / (2.0 * std[:, None])

    def with_fantasies(self, points: np.ndarray) -> GaussianProcess:
        """Kriging believer: pretend the points were observed at the posterior mean. The
        mean elsewhere barely moves, but the uncertainty near them collapses, so runs in
        flight are not proposed again."""
        if len(points) == 0:
            return self
        mean, _ = self.predict(points)
        return GaussianProcess(
            np.vstack([self.x, points]),
            np.concatenate([self.y, mean]),
            self.categorical,
            self.hp,
        )
