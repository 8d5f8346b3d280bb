"""The privacy ledger of a differentially private fit: the noise calibrated to a target
ε, and what the fit spent.

Training as the accountant models it (DP-SGD): every step takes each row independently
with probability q (Poisson sampling), clips each row's gradient to the norm C and adds
Gaussian noise of standard deviation σ·C to the sum of the clipped gradients. The
``dp-accounting`` package's RDP accountant composes T such steps,
``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(σ)), T)``, for the
add-or-remove-one-row relation, and σ is the smallest noise multiplier it finds whose ε
at δ is at most the target. The row count (which sets q and the default δ) is treated
as public, as DP-SGD usually does.

What the declared schema leaves open (levels, ranges, quantiles, missing rates) is
released first by :mod:`synthvae.dp_statistics`: k Gaussian histograms of sensitivity 1
with one noise multiplier σ₀, calibrated so that they alone spend ``PREPROCESSING_SHARE``
of ε. The accountant composes them with the training's steps, and the training's σ is
calibrated on that composition, so the total stays within ε. Thresholds on level counts
add their own δ₀ (a share of δ): the accountant's ε holds at δ − δ₀.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math

from synthvae.errors import UsageError

ACCOUNTANT = "RDP"
NEIGHBOURING = "add or remove one row"
SAMPLING = "Poisson"
# The norm each row's gradient is clipped to.
CLIP_NORM = 1.0


def default_delta(n_rows):
    """δ when none is given: 1 / (10 n), well under the 1 / n at which releasing one row
    whole would be allowed."""
    return 1.0 / (10.0 * n_rows)


def check_budget(epsilon, delta):
    """Raise UsageError unless ε > 0 and δ (when given) lies in (0, 1)."""
    if epsilon is None:
        if delta is not None:
            raise UsageError("delta is only used with epsilon (a differentially private fit)")
        return
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0 < epsilon < math.inf:
        raise UsageError(f"epsilon must be a positive number, got {epsilon!r}")
    if delta is not None and (isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1):
        raise UsageError(f"delta must be a number between 0 and 1 (exclusive), got {delta!r}")


@dataclasses.dataclass(frozen=True)
class Ledger:
    """What a differentially private fit promised and how: the model file's ``privacy``.

    ``epsilon`` is the target, ``epsilon_spent`` what the accountant gives for the
    preprocessing and the training together (at most the target); ``split`` gives the ε
    each part alone would spend at the same δ (their composition is ``epsilon_spent``,
    less than their sum). ``preprocessing_queries`` histograms were released with noise
    multiplier ``preprocessing_noise_multiplier``; ``threshold_delta`` is the part of
    δ spent by thresholds on level counts; ``released`` names, per column, what was
    released (filled in by the fit).
    """

    epsilon: float
    delta: float
    epsilon_spent: float
    noise_multiplier: float
    clip_norm: float
    sampling_rate: float
    steps: int
    expected_batch_size: float
    split: dict
    preprocessing_noise_multiplier: float = 0.0
    preprocessing_queries: int = 0
    threshold_delta: float = 0.0
    released: dict | None = None
    accountant: str = ACCOUNTANT
    sampling: str = SAMPLING
    neighbouring: str = NEIGHBOURING

    def to_dict(self):
        return dataclasses.asdict(self)

    def summary(self):
        """The one line ``fit`` prints."""
        parts = ", ".join(f"{name} {share:.3g}" for name, share in self.split.items())
        return (f"differential privacy: spent epsilon {self.epsilon_spent:.3g} of {self.epsilon:g} at delta "
                f"{self.delta:.3g} ({parts}; {self.accountant} accountant, {self.steps} steps sampling "
                f"{self.sampling_rate:.3g} of the rows, noise {self.noise_multiplier:.3g} x clip norm "
                f"{self.clip_norm:g}; {self.neighbouring})")


def training_event(noise_multiplier, sampling_rate, steps):
    """T Poisson-sampled Gaussian steps, as the accountant models DP-SGD."""
    import dp_accounting

    step = dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    return dp_accounting.SelfComposedDpEvent(step, steps)


def _accountant():
    from dp_accounting import rdp

    return rdp.RdpAccountant()


def histograms_event(noise_multiplier, count):
    """``count`` Gaussian histograms of L2 sensitivity 1, noise multiplier σ₀ each."""
    import dp_accounting

    return dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(noise_multiplier), count)


def spent_epsilon(delta, *events):
    """ε at δ of ``events`` composed, by the accountant."""
    accountant = _accountant()
    for event in events:
        accountant.compose(event)
    return float(accountant.get_epsilon(delta))


def _calibrate(make_event, epsilon, delta, what):
    import dp_accounting

    try:
        with _quiet_accountant():
            return float(dp_accounting.calibrate_dp_mechanism(_accountant, make_event, epsilon, delta))
    except (ValueError, RuntimeError) as exc:
        raise UsageError(f"no noise level reaches epsilon {epsilon:g} at delta {delta:g} for {what} ({exc})") from None


def plan_privacy(epsilon, delta, n_rows, batch_size, epochs, clip_norm=CLIP_NORM, preprocessing_queries=0,
                 thresholds=False, preprocessing_share=0.1, threshold_delta_share=0.1):
    """The ledger of a private fit: ``preprocessing_queries`` noisy histograms (with
    level ``thresholds`` or not), then training ``epochs`` passes over ``n_rows`` rows in
    Poisson batches of ``batch_size`` rows on average (n / batch steps an epoch). The
    histograms' σ₀ spends ``preprocessing_share`` of ε alone; the training's σ is
    calibrated so that both together spend at most ``epsilon`` at ``delta``."""
    if n_rows < 1 or batch_size < 1:
        raise UsageError("a differentially private fit needs rows and a batch of at least one row")
    sampling_rate = min(1.0, batch_size / n_rows)
    steps = int(epochs) * max(1, round(1.0 / sampling_rate))
    threshold_delta = threshold_delta_share * delta if thresholds else 0.0
    accounted_delta = delta - threshold_delta
    preprocessing = []
    noise0 = 0.0
    if preprocessing_queries:
        noise0 = _calibrate(lambda s: histograms_event(s, preprocessing_queries), preprocessing_share * epsilon,
                            accounted_delta, f"{preprocessing_queries} preprocessing histograms")
        preprocessing = [histograms_event(noise0, preprocessing_queries)]
    sigma = _calibrate(lambda s: training_event(s, sampling_rate, steps) if not preprocessing
                       else _composed(preprocessing + [training_event(s, sampling_rate, steps)]),
                       epsilon, accounted_delta, f"{steps} training steps")
    training = training_event(sigma, sampling_rate, steps)
    with _quiet_accountant():
        spent = spent_epsilon(accounted_delta, *preprocessing, training)
        split = {"preprocessing": spent_epsilon(accounted_delta, *preprocessing) if preprocessing else 0.0,
                 "training": spent_epsilon(accounted_delta, training)}
    if not spent <= epsilon:  # the calibration's contract; checked, never assumed
        raise UsageError(f"the calibrated noise spends epsilon {spent:g}, more than {epsilon:g}")
    return Ledger(epsilon=float(epsilon), delta=float(delta), epsilon_spent=spent, noise_multiplier=sigma,
                  clip_norm=float(clip_norm), sampling_rate=float(sampling_rate), steps=steps,
                  expected_batch_size=float(sampling_rate * n_rows), split=split,
                  preprocessing_noise_multiplier=noise0, preprocessing_queries=int(preprocessing_queries),
                  threshold_delta=float(threshold_delta),
                  accountant=f"{ACCOUNTANT} (dp-accounting {_version()})")


def _composed(events):
    import dp_accounting

    return dp_accounting.ComposedDpEvent(events)


@contextlib.contextmanager
def _quiet_accountant():
    """The RDP accountant logs a warning for each order it leaves out of a bound (which
    only makes the bound looser); stderr gets progress and errors only."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dp-accounting")
    except PackageNotFoundError:
        return "?"
