"""Basins, orbit diagram and loss-curve helpers on small independent cases."""

import numpy as np

import dlnflow as dl
from dlnflow import basins, orbits, rates
from dlnflow.plot import basins as plot_basins
from dlnflow.plot import style, trajectories


def test_start_grid_is_symmetric():
    x, y = basins.start_grid([-2, 2, -1, 3], 7)
    assert np.array_equal(x, -x[::-1]) and y[0] == -1 and y[-1] == 3


def test_basins_small_grid_matches_direct_iteration():
    prob = dl.Problem.scalar_chain(2, 1.0)
    res = basins.gd_basins(prob, 0.5, grid=6, extent=(-1.5, 1.5, -1.5, 1.5), max_steps=800)
    x, y = res["w1"], res["w2"]
    for i in range(6):
        for j in range(6):
            w = np.array([x[j], y[i]])
            for _ in range(800):
                p = w[0] * w[1]
                w = w - 0.5 * (p - 1.0) * w[::-1]
            code = res["outcome"][i, j]
            if abs(w[0] * w[1] - 1) < 1e-10:
                assert code == (0 if w[0] > 0 else 1)
            elif np.max(np.abs(w)) < 1e-8:
                assert code == 2
    fig, ax = style.figure()
    plot_basins.plot_basins(ax, res)
    plot_basins.plot_basins(ax, res, show="iterations")


def test_orbit_helpers():
    assert abs(rates.balanced_lambda_max(3, 8.0) - 48.0) < 1e-12
    prob = dl.Problem.scalar_chain(3, 2.0)
    w = np.full(3, 2.0 ** (1 / 3))
    assert abs(rates.lambda_max_at(prob, w) - rates.balanced_lambda_max(3, 2.0)) < 1e-9
    p = np.array([[1.0, 1.0], [1.0, 1.2], [np.nan, np.nan]])
    assert orbits.first_doubling([0.1, 0.2, 0.3], p) == 0.2


def test_loss_curves_log_axis():
    fig, ax = style.figure()
    trajectories.loss_curves(ax, [{"t": [0, 1, 2], "loss": [1, 0.1, 0.0], "kind": "flow"},
                                  {"t": [0, 1], "loss": [1, 0.2], "kind": "gd"}])
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
