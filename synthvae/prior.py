"""Where new latent codes come from: a Gaussian mixture fitted to the encoder's means.

A VAE's aggregate posterior is not N(0, I): drawing from N(0, I) lands in "holes"
the decoder never learned and decodes into implausible rows. Fitting a mixture to
the encoded training rows after training (Ghosh et al., ICLR 2020) keeps new codes
where the data is. The mixture is small relative to the table (tens of rows per
component at least) and its covariances are floored, so it summarises the data
rather than storing it: the model file holds no encoded rows.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

# Each component must summarise at least this many rows, so none sits on one row.
MIN_ROWS_PER_COMPONENT = 50
FIT_SUBSAMPLE = 10_000


class GaussianMixturePrior:
    """A Gaussian mixture over the latent space.

    Parameters
    ----------
    n_components : int
        Upper bound on the number of components (fewer for small tables).
    random_state : int
    """

    def __init__(self, n_components=50, random_state=0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, latents):
        rng = np.random.default_rng(self.random_state)
        if len(latents) > FIT_SUBSAMPLE:
            latents = latents[rng.choice(len(latents), FIT_SUBSAMPLE, replace=False)]
        k = int(max(1, min(self.n_components, len(latents) // MIN_ROWS_PER_COMPONENT)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmm = GaussianMixture(
                # Diagonal covariances: a full-covariance fit is two orders of magnitude
                # slower on 32 dimensions, and many diagonal components do as well.
                n_components=k, covariance_type="diag", reg_covar=1e-3,
                max_iter=100, random_state=self.random_state,
            ).fit(latents.astype(np.float64))
        self.weights_ = gmm.weights_ / gmm.weights_.sum()
        self.means_ = gmm.means_
        self.stds_ = np.sqrt(gmm.covariances_)
        return self

    @classmethod
    def standard_normal(cls, latent_dim):
        """The plain VAE prior N(0, I), as a one-component mixture."""
        self = cls(n_components=1)
        self.weights_ = np.ones(1)
        self.means_ = np.zeros((1, latent_dim))
        self.stds_ = np.ones((1, latent_dim))
        return self

    def sample(self, n, rng):
        """Draw ``n`` latent codes (float32) with the numpy generator ``rng``."""
        components = rng.choice(len(self.weights_), size=n, p=self.weights_)
        eps = rng.standard_normal((n, self.means_.shape[1]))
        return (self.means_[components] + eps * self.stds_[components]).astype(np.float32)

    def get_state(self):
        return {"weights": self.weights_.tolist(), "means": self.means_.tolist(), "stds": self.stds_.tolist()}

    @classmethod
    def from_state(cls, state):
        self = cls(n_components=len(state["weights"]))
        self.weights_ = np.asarray(state["weights"], dtype=np.float64)
        self.means_ = np.asarray(state["means"], dtype=np.float64)
        self.stds_ = np.asarray(state["stds"], dtype=np.float64)
        return self
