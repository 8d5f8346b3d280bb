import numpy as np

from synthvae.prior import MIN_COMPONENT_ROWS, ROWS_PER_COMPONENT, GaussianMixturePrior


def test_mixture_prior_follows_correlated_latents():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4000, 1))
    latents = np.hstack([base, 2 * base + 0.1 * rng.standard_normal((4000, 1)), rng.standard_normal((4000, 1)) + 5])
    prior = GaussianMixturePrior(n_components=5, random_state=0).fit(latents)
    z = prior.sample(20_000, np.random.default_rng(1))
    assert z.dtype == np.float32 and z.shape == (20_000, 3)
    assert np.allclose(z.mean(axis=0), latents.mean(axis=0), atol=0.1)
    assert np.corrcoef(z[:, 0], z[:, 1])[0, 1] > 0.85  # components along the line keep the correlation


def test_components_are_capped_by_rows_and_state_round_trips():
    latents = np.random.default_rng(0).standard_normal((3 * ROWS_PER_COMPONENT, 2))
    prior = GaussianMixturePrior(n_components=50, random_state=0).fit(latents)
    assert len(prior.weights_) == 3
    again = GaussianMixturePrior.from_state(prior.get_state())
    a = prior.sample(100, np.random.default_rng(2))
    assert np.array_equal(a, again.sample(100, np.random.default_rng(2)))


def test_no_component_sits_on_a_few_rows():
    """Outliers far from everything would get a k-means cluster of their own; such a
    component would decode back into those training rows, so it is dropped."""
    rng = np.random.default_rng(0)
    latents = np.vstack([rng.standard_normal((2000, 2)), [[40.0, 40.0], [-40.0, 40.0], [40.0, -40.0]]])
    prior = GaussianMixturePrior(n_components=40, random_state=0).fit(latents)
    shares = prior.weights_ * len(latents)
    assert shares.min() >= MIN_COMPONENT_ROWS - 1e-9
    assert np.abs(prior.means_).max() < 10
    assert np.isclose(prior.weights_.sum(), 1.0)
