"""The standard normal CDF in NumPy, so that sampling needs no SciPy.

Number columns come back from normal scores through their quantile tables, which
takes the normal CDF of every sampled score. SciPy's ``ndtr`` does that, but importing
``scipy.special`` costs more than the rest of a small sample, so :func:`ndtr` here
computes it with the same rational approximations (Cephes' ``ndtr``, ``erf`` and
``erfc``): within 1e-12 of SciPy's result, relatively, over the whole line.
"""

from __future__ import annotations

import numpy as np

_SQRTH = 0.70710678118654752440
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0, 4.86371970985681366614e1,
      1.96520832956077098242e2, 5.26445194995477358631e2, 9.34528527171957607540e2, 1.02755188689515710272e3,
      5.57535335369399327526e2)
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2, 9.75708501743205489753e2,
      1.82390916687909736289e3, 2.24633760818710981792e3, 1.65666309194161350182e3, 5.57535340817727675546e2)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0, 6.16021097993053585195e0,
      7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1, 1.70814450747565897222e1,
      9.60896809063285878198e0, 3.36907645100081516050e0)
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3, 7.00332514112805075473e3,
      5.55923013010394962768e4)
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3, 2.26290000613890934246e4,
      4.92673942608635921086e4)


def _polynomial(x, coefficients):
    """Horner's rule, highest power first."""
    out = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out *= x
        out += c
    return out


def _erf_small(x):
    """erf(x) for |x| <= 1."""
    z = x * x
    return x * _polynomial(z, _T) / _polynomial(z, _U)


def _erfc_large(x):
    """erfc(x) for x >= 1."""
    with np.errstate(under="ignore"):
        z = np.exp(-x * x)
        near = x < 8.0
        if near.all():  # the usual case: scores are clipped far inside
            return z * _polynomial(x, _P) / _polynomial(x, _Q)
        p = np.where(near, _polynomial(x, _P), _polynomial(x, _R))
        q = np.where(near, _polynomial(x, _Q), _polynomial(x, _S))
        return z * p / q


def ndtr(x):
    """P(N(0, 1) <= x), elementwise, as float64 (NaN stays NaN)."""
    x = np.asarray(x, dtype=np.float64)
    t = x * _SQRTH
    z = np.abs(t)
    out = np.empty_like(t)
    small = z < _SQRTH
    out[small] = 0.5 + 0.5 * _erf_small(t[small])
    large = ~small & ~np.isnan(t)
    tail = 0.5 * _erfc_large(np.minimum(z[large], 30.0))
    out[large] = np.where(t[large] > 0, 1.0 - tail, tail)
    out[np.isnan(t)] = np.nan
    return out
