"""The privacy ledger of a differentially private fit: the noise calibrated to a target
ε, and what the fit spent.

Training as the accountant models it (DP-SGD): every step takes each row independently
with probability q (Poisson sampling), clips each row's gradient to the norm C and adds
Gaussian noise of standard deviation σ·C to the sum of the clipped gradients. The
``dp-accounting`` package's RDP accountant composes T such steps,
``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(σ)), T)``, for the
add-or-remove-one-row relation, and σ is the smallest noise multiplier it finds whose ε
at δ is at most the target. All of ε goes to training: the columns' kinds, levels and
ranges come from the schema the user declared public, and the row count (which sets q
and the default δ) is treated as public, as DP-SGD usually does.
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
    training that ran (at most the target); ``split`` says which part of the fit spent
    how much of it.
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
    accountant: str = ACCOUNTANT
    sampling: str = SAMPLING
    neighbouring: str = NEIGHBOURING

    def to_dict(self):
        return dataclasses.asdict(self)

    def summary(self):
        """The one line ``fit`` prints."""
        parts = ", ".join(f"{name} {share:g}" for name, share in self.split.items())
        return (f"differential privacy: spent epsilon {self.epsilon_spent:.3g} of {self.epsilon:g} at delta "
                f"{self.delta:.3g} ({parts}; {self.accountant} accountant, {self.steps} steps sampling "
                f"{self.sampling_rate:.3g} of the rows, noise {self.noise_multiplier:.3g} x clip norm "
                f"{self.clip_norm:g}; {self.neighbouring})")


def _event(noise_multiplier, sampling_rate, steps):
    import dp_accounting

    step = dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    return dp_accounting.SelfComposedDpEvent(step, steps)


def _accountant():
    from dp_accounting import rdp

    return rdp.RdpAccountant()


def spent_epsilon(noise_multiplier, sampling_rate, steps, delta):
    """ε of ``steps`` Poisson-sampled Gaussian steps at δ, by the accountant."""
    accountant = _accountant()
    accountant.compose(_event(noise_multiplier, sampling_rate, steps))
    return float(accountant.get_epsilon(delta))


def plan_privacy(epsilon, delta, n_rows, batch_size, epochs, clip_norm=CLIP_NORM):
    """The ledger of training ``epochs`` passes over ``n_rows`` rows in Poisson batches of
    ``batch_size`` rows on average (n / batch steps an epoch), with σ calibrated so that
    the run spends at most ``epsilon`` at ``delta``."""
    import dp_accounting

    sampling_rate = min(1.0, batch_size / n_rows)
    steps = int(epochs) * max(1, round(1.0 / sampling_rate))
    if n_rows < 1 or batch_size < 1:
        raise UsageError("a differentially private fit needs rows and a batch of at least one row")
    try:
        with _quiet_accountant():
            sigma = float(dp_accounting.calibrate_dp_mechanism(
                _accountant, lambda s: _event(s, sampling_rate, steps), epsilon, delta))
    except (ValueError, RuntimeError) as exc:
        raise UsageError(f"no noise level reaches epsilon {epsilon:g} at delta {delta:g} in {steps} steps ({exc})") from None
    with _quiet_accountant():
        spent = spent_epsilon(sigma, sampling_rate, steps, delta)
    if not spent <= epsilon:  # the calibration's contract; checked, never assumed
        raise UsageError(f"the calibrated noise spends epsilon {spent:g}, more than {epsilon:g}")
    return Ledger(epsilon=float(epsilon), delta=float(delta), epsilon_spent=spent, noise_multiplier=sigma,
                  clip_norm=float(clip_norm), sampling_rate=float(sampling_rate), steps=steps,
                  expected_batch_size=float(sampling_rate * n_rows),
                  split={"training": float(epsilon), "preprocessing": 0.0},
                  accountant=f"{ACCOUNTANT} (dp-accounting {_version()})")


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
