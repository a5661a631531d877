"""plot.spectra.singular_value_trajectories: the drawn lines are the given singular values on a
log-time axis (t > 0 only), targets dotted, plateaus shaded; bad shapes give an InputError."""

import numpy as np
import pytest

import dlnflow as dl
from dlnflow.plot.spectra import singular_value_trajectories
from dlnflow.plot.style import figure


def test_singular_value_trajectories_draws_the_data():
    t = np.linspace(0.0, 10.0, 51)
    sv = np.stack([3 / (1 + np.exp(-(t - 3))), 1 / (1 + np.exp(-(t - 7))), 1e-15 + 0 * t], 1)
    fig, ax = figure()
    singular_value_trajectories(ax, t, sv, top=2, targets=[3.0, 1.0, 0.5],
                                plateaus=[(0.0, 2.0), (4.5, 5.5)])
    lines = ax.get_lines()
    # 2 target lines (top=2 keeps two) then 2 singular values
    assert len(lines) == 4
    np.testing.assert_allclose(lines[0].get_ydata(), [3.0, 3.0])
    np.testing.assert_allclose(lines[1].get_ydata(), [1.0, 1.0])
    np.testing.assert_allclose(lines[2].get_xdata(), t[1:])
    np.testing.assert_allclose(lines[2].get_ydata(), sv[1:, 0])
    np.testing.assert_allclose(lines[3].get_ydata(), sv[1:, 1])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    spans = [p for p in ax.patches]
    assert len(spans) == 2
    x0, x1 = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
    assert (x0, x1) == pytest.approx((t[1], 2.0))       # clipped to the first t > 0
    labels = [ln.get_label() for ln in lines[2:]]
    assert labels == [r"$\sigma_{1}$", r"$\sigma_{2}$"]


def test_singular_value_trajectories_one_colour_and_floor():
    t = np.array([1.0, 2.0, 3.0])
    sv = np.array([[1.0, 0.0], [2.0, 1e-20], [3.0, 1e-3]])
    fig, ax = figure()
    singular_value_trajectories(ax, t, sv, color="#000000", label="depth 2", floor=1e-6)
    a, b = ax.get_lines()
    assert a.get_label() == "depth 2" and b.get_label().startswith("_")
    np.testing.assert_allclose(b.get_ydata(), [1e-6, 1e-6, 1e-3])


def test_singular_value_trajectories_bad_shape():
    fig, ax = figure()
    with pytest.raises(dl.InputError, match="values has 2 rows, t has 3 times"):
        singular_value_trajectories(ax, [1.0, 2.0, 3.0], np.ones((2, 2)))
