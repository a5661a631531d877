"""dlnflow.fitting on synthetic counts with known growth laws and censored runs."""

import numpy as np
import pytest

from dlnflow import fitting
from dlnflow.errors import InputError


def _runs(depths, law, seed=0):
    rng = np.random.default_rng(seed)
    return [law(L) * np.exp(0.1 * rng.standard_normal(41)) for L in depths]


def test_exponential_rate_and_interval():
    d = [2, 4, 6, 8, 10]
    fit = fitting.classify_growth(d, _runs(d, lambda L: 5 * np.exp(0.7 * L)))
    e = fit["exponential"]
    assert fit["law"] == "exponential"
    assert e["ci"][0] < 0.7 < e["ci"][1] and e["slope"] == pytest.approx(0.7, abs=0.03)


def test_polynomial_degree_and_flat():
    d = [2, 4, 8, 16]
    p = fitting.classify_growth(d, _runs(d, lambda L: 3 * L**2.0))
    assert p["law"] == "polynomial"
    assert p["polynomial"]["slope"] == pytest.approx(2.0, abs=0.05)
    assert fitting.classify_growth(d, _runs(d, lambda L: 50.0))["law"] == "flat"


def test_censoring_excludes_depth_and_counts():
    counts = fitting.censored_counts([10, 20, 5], ["converged", "max_steps", "diverged"])
    assert np.isinf(counts[1:]).all() and counts[0] == 10
    fit = fitting.fit_growth([2, 4, 6], [[1, 2, 3], [4, 5, 6], [np.inf, np.inf, 7]])
    assert fit["excluded"] == [6.0]
    assert fitting.quantiles([1, np.inf, np.inf])[1] == np.inf
    with pytest.raises(InputError):
        fitting.censored_counts([1, 2], ["converged"])
