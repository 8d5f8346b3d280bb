"""Conditional sampling: N rows that all satisfy conditions such as ``sex == " Female"``
and ``age >= 40``, distributed as the model's rows are given those conditions.

Why it is exact and fast. Given the latent code z, the decoder makes every column
independently (one softmax draw per categorical group, Gaussian noise per number), and
calibration and inverse transforms act column by column. So the model's rows that
satisfy a condition C are: z drawn from p(z) P(C | z), then each conditioned column drawn
from its decoder distribution restricted to C, the other columns as usual. P(C | z) is in
closed form: the summed probability of the allowed levels of a category, and for a range
a normal-CDF difference, because the value written out is a monotone function of the
pre-noise decoder value (so a range of values is an interval of pre-noise values, found
once on a grid). z comes from the mixture prior by rejection with an envelope per
component: component k is proposed with probability w_k M_k, M_k bounding P(C | z) in k
(from a pilot), and z is kept with probability P(C | z) / M_k. The acceptance rate is the
mean over the max of P(C | z) within components, not the condition's share: on Adult a
condition that holds for 1% of the rows costs about 4x an unconditional sample where
filtering would cost ~100x (BENCHMARKS.md). A final check on the written values makes
every returned row satisfy every condition exactly.

Range conditions with ``encoding="mode"`` (not monotone in one value) are met by that
final check alone: plain rejection, slower for rare ranges.

:mod:`synthvae.conditions` checks the conditions against the model and compiles them
(the allowed slots of each softmax group, the pre-noise interval of each range); this
module draws the rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from synthvae.errors import DataError
from synthvae.generation import decode_to_matrix, draw_levels, softmax
from synthvae.normal import ndtr

# Pilot draws per mixture component (fewer per component when there are many).
_PILOT_PER_COMPONENT = 128
_PILOT_TOTAL = 25_600
# The envelope is the pilot's maximum times this, so few codes exceed it.
_ENVELOPE_MARGIN = 1.25
# A chunk that needs more than this many candidate rows per row asked for gives up.
_MAX_DRAWS_PER_ROW = 2_000
# Once this many candidates are drawn, a chunk whose acceptance so far says it would
# exceed that budget gives up at once instead of spending it: a condition the rules
# allow but the model all but never meets would otherwise run for minutes.
_PROJECTION_DRAWS = 100_000


class ConditionalSampler:
    """Draws rows that satisfy compiled :class:`~synthvae.conditions.Conditions` (see the
    module docstring).

    Parameters
    ----------
    conditions : Conditions
    decode : callable
        Latent codes -> raw decoder outputs.
    prior : GaussianMixturePrior
    transformer : TableTransformer
    sigma : numpy.ndarray
    calibration : Calibration or None
    seed : int
        Seeds the pilot. :meth:`rows` is what :class:`synthvae.generation.Generator`
        calls for each chunk, with that chunk's generator.
    """

    def __init__(self, conditions, decode, prior, transformer, sigma, calibration, seed):
        self.conditions = conditions
        self.decode = decode
        self.prior = prior
        self.transformer = transformer
        self.model_sigma = sigma
        self.sigma = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-6)
        self.calibration = calibration
        self.bias = calibration.logit_bias if calibration is not None else np.zeros(transformer.width_, np.float32)
        self._pilot(np.random.default_rng([seed, 2**40]))

    def _pilot(self, rng):
        k = len(self.prior.weights_)
        per = max(16, min(_PILOT_PER_COMPONENT, _PILOT_TOTAL // k))
        components = np.repeat(np.arange(k), per)
        raw = self.decode(self.prior.sample_components(components, rng))
        weight = self._weight(raw).reshape(k, per)
        share = float((self.prior.weights_ * weight.mean(axis=1)).sum())
        if share <= 0:
            raise DataError(f"the model never makes rows with {self.conditions.text}")
        self.envelope = np.minimum(1.0, _ENVELOPE_MARGIN * weight.max(axis=1))
        proposal = self.prior.weights_ * self.envelope
        self.proposal = proposal / proposal.sum()
        # Expected share of proposed codes kept, to size the batches.
        self.accept_rate = float(share / proposal.sum())

    def _weight(self, raw):
        """P(conditions | z) for each row of raw decoder outputs."""
        weight = np.ones(len(raw))
        for rule in self.conditions.levels:
            weight *= self._probs(raw, rule.start, rule.width) @ rule.mask()
        for rule in self.conditions.ranges:
            if rule.indicator_start >= 0:
                weight *= self._probs(raw, rule.indicator_start, 2)[:, 0]
            if rule.pre_noise is not None:
                weight *= _interval(raw, rule, self.sigma)[0]
        return weight

    def _probs(self, raw, start, width):
        return softmax(raw[:, start : start + width].astype(np.float64) + self.bias[start : start + width])

    def _impose(self, matrix, raw, rng):
        """Redraw the conditioned columns from their distributions restricted to the conditions."""
        n = len(raw)
        for rule in self.conditions.levels:
            weights = np.array((self._probs(raw, rule.start, rule.width) * rule.mask()).T, np.float32, order="C")
            codes = np.minimum(draw_levels(weights, rng), rule.width - 1)
            block = np.zeros((n, rule.width), dtype=np.float32)
            block[np.arange(n), codes] = 1.0
            matrix[:, rule.start : rule.start + rule.width] = block
        for rule in self.conditions.ranges:
            if rule.indicator_start >= 0:
                matrix[:, rule.indicator_start] = 1.0
                matrix[:, rule.indicator_start + 1] = 0.0
            if rule.pre_noise is None:
                continue
            from scipy.special import ndtri  # range conditions only

            _, flip, lo, hi = _interval(raw, rule, self.sigma)
            p_lo, p_hi = ndtr(lo), ndtr(hi)
            eps = np.clip(ndtri(p_lo + rng.random(n) * (p_hi - p_lo)), lo, hi)
            eps = np.where(flip, -eps, eps)
            values = raw[:, rule.matrix_column].astype(np.float64) + self.sigma[rule.continuous_index] * eps
            if self.calibration is not None:
                values = self.calibration.map_column(rule.continuous_index, values)
            matrix[:, rule.matrix_column] = values

    def _candidates(self, rng, size):
        """Rows from ``size`` proposed codes: those kept, with conditions imposed and checked."""
        components = rng.choice(len(self.proposal), size=size, p=self.proposal)
        raw = self.decode(self.prior.sample_components(components, rng))
        keep = rng.random(size) * self.envelope[components] < self._weight(raw)
        raw = raw[keep]
        matrix = decode_to_matrix(raw, self.transformer, self.model_sigma, rng, calibration=self.calibration)
        self._impose(matrix, raw, rng)
        rows = self.transformer.inverse_transform(matrix, rng=rng)
        self._draw_pooled(rows, matrix, rng)
        return rows[self.conditions.check(rows)]

    def _draw_pooled(self, rows, matrix, rng):
        """Rows that took the pooled rare level draw it among the allowed pooled values."""
        for name, (values, weights) in self.conditions.pooled.items():
            span = next(s for s in self.transformer.spans_ if s.column == name)
            rare = matrix[:, span.stop - 1] == 1.0
            if rare.any():
                picks = rng.choice(len(values), int(rare.sum()), p=weights / weights.sum())
                column = rows[name].to_numpy(dtype=object, copy=True)
                column[rare] = np.array(values, dtype=object)[picks]
                rows[name] = pd.Series(column).astype(rows[name].dtype, errors="ignore")

    def rows(self, rng, n):
        """Exactly ``n`` rows that satisfy the conditions, drawn with ``rng``."""
        parts, have, drawn, kept = [], 0, 0, 0
        rate = self.accept_rate
        while have < n:
            size = int(min(65_536, max(1_024, math.ceil(1.1 * (n - have) / max(rate, 1e-3)) + 64)))
            part = self._candidates(rng, size)
            drawn += size
            kept += len(part)
            rate = max(kept / drawn, 1e-4)
            parts.append(part)
            have += len(part)
            budget = _MAX_DRAWS_PER_ROW * max(n, 1_000)
            # (kept + 1) / drawn: a hopeful rate while few rows have passed.
            projected = drawn + (n - have) * drawn / (kept + 1)
            if have < n and (drawn > budget or (drawn >= _PROJECTION_DRAWS and projected > budget)):
                raise DataError(
                    f"the model almost never makes rows with {self.conditions.text}: "
                    f"{kept} of {drawn} drawn rows met them; loosen the conditions"
                )
        return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)


def _interval(raw, rule, sigma):
    """P(value in range | z) and the standardized bounds, on the side of the mean where
    the normal CDF difference does not cancel."""
    mu = raw[:, rule.matrix_column].astype(np.float64)
    s = sigma[rule.continuous_index]
    a, b = rule.pre_noise
    alpha, beta = (a - mu) / s, (b - mu) / s
    flip = alpha > 0
    lo = np.where(flip, -beta, alpha)
    hi = np.where(flip, -alpha, beta)
    return ndtr(hi) - ndtr(lo), flip, lo, hi
