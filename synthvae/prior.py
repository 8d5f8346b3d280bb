"""Where new latent codes come from: a Gaussian mixture fitted to the encoder's means.

A VAE's aggregate posterior is not N(0, I): drawing from N(0, I) lands in "holes"
the decoder never learned and decodes into implausible rows. Fitting a mixture to
the encoded training rows after training (Ghosh et al., ICLR 2020) keeps new codes
where the data is. The mixture is small relative to the table (tens of rows per
component) and its variances are floored, so it summarises the data rather than
storing it: the model file holds no encoded rows.
"""

from __future__ import annotations

import numpy as np

from synthvae.transformers import learned

# Components are made for at least this many rows each, and any that ends up with
# fewer than MIN_COMPONENT_ROWS is dropped, so no component sits on a single row.
ROWS_PER_COMPONENT = 50
MIN_COMPONENT_ROWS = 10
FIT_SUBSAMPLE = 50_000
# Added to every component's variance (latent units): keeps draws off the centres.
VARIANCE_FLOOR = 1e-3


class GaussianMixturePrior:
    """A diagonal Gaussian mixture over the latent space.

    The components are k-means clusters of the latent codes, each with its own mean,
    variance and weight. On Adult, 600 such components fit in a few seconds and give
    better rows than 200 fitted by EM on a subsample, which took as long
    (BENCHMARKS.md): EM's cost grows with components times rows times iterations,
    k-means' far more slowly.

    Parameters
    ----------
    n_components : int
        Upper bound on the number of components (fewer for small tables).
    random_state : int
    """

    def __init__(self, n_components=600, random_state=0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, latents):
        from sklearn.cluster import KMeans  # fitting only: sampling needs no scikit-learn

        rng = np.random.default_rng(self.random_state)
        if len(latents) > FIT_SUBSAMPLE:
            latents = latents[rng.choice(len(latents), FIT_SUBSAMPLE, replace=False)]
        latents = latents.astype(np.float64)
        k = int(max(1, min(self.n_components, len(latents) // ROWS_PER_COMPONENT)))
        labels = KMeans(n_clusters=k, n_init=1, max_iter=20, random_state=self.random_state).fit_predict(latents)
        counts = np.bincount(labels, minlength=k).astype(np.float64)
        # The learning policy sets the fewest rows a component may rest on.
        keep = counts >= max(min(MIN_COMPONENT_ROWS, counts.max()), learned.active().min_rows)
        if not keep.any():
            keep = counts == counts.max()
        sums = np.stack([np.bincount(labels, weights=col, minlength=k) for col in latents.T], axis=1)
        squares = np.stack([np.bincount(labels, weights=col**2, minlength=k) for col in latents.T], axis=1)
        means = sums[keep] / counts[keep, None]
        variances = np.maximum(squares[keep] / counts[keep, None] - means**2, 0.0)
        kept_counts = learned.counts(counts[keep])
        self.weights_ = kept_counts / kept_counts.sum()
        # Centres stay within the span the policy keeps of the codes.
        self.means_ = np.clip(means, *learned.bounds_by_column(latents))
        self.stds_ = np.sqrt(variances + VARIANCE_FLOOR)
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
        return self.sample_components(rng.choice(len(self.weights_), size=n, p=self.weights_), rng)

    def sample_components(self, components, rng):
        """One latent code (float32) from each of the given components."""
        codes = rng.standard_normal((len(components), self.means_.shape[1]))
        # mean + noise * std, worked out in place (the same values, fewer temporaries).
        codes *= self.stds_[components]
        codes += self.means_[components]
        return codes.astype(np.float32)

    def get_state(self):
        return {"weights": self.weights_.tolist(), "means": self.means_.tolist(), "stds": self.stds_.tolist()}

    @classmethod
    def from_state(cls, state):
        self = cls(n_components=len(state["weights"]))
        self.weights_ = np.asarray(state["weights"], dtype=np.float64)
        self.means_ = np.asarray(state["means"], dtype=np.float64)
        self.stds_ = np.asarray(state["stds"], dtype=np.float64)
        return self
