"""Portrait data (dlnflow.portrait): critical classes, the invariant surface; drawing."""

import numpy as np

import dlnflow as dl
from dlnflow import portrait
from dlnflow.plot import portrait as draw
from dlnflow.plot import style


def test_classify_points():
    p2 = dl.Problem.scalar_chain(2, 1.0)
    assert portrait.point_class(p2, [0.0, 0.0]) == "strict_saddle"
    assert portrait.point_class(p2, [2.0, 0.5]) == "global_min"
    p4 = dl.Problem.scalar_chain(4, 1.0)
    assert portrait.point_class(p4, [0.0, 0.0, 1.0, 2.0]) == "strict_saddle"
    assert portrait.point_class(p4, [0.0, 0.0, 0.0, 2.0]) == "non_strict_saddle"


def test_surface_is_invariant_under_the_field():
    """On S the field's tail components equal the derivative of the lift along (w1', w2')."""
    prob = dl.Problem.scalar_chain(4, 1.5)
    D, s = np.array([0.3, 0.0]), np.array([-1.0, 1.0])
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1.5, 1.5, size=(20, 2))
    W = portrait.lift(pts[:, 0], pts[:, 1], D, s)
    V = portrait.field(prob, W)
    # d/dt w_j = (w2 / w_j) w2' for w_j^2 = w2^2 + D_j
    expect = (W[:, 1:2] / W[:, 2:]) * V[:, 1:2]
    assert np.allclose(V[:, 2:], expect, rtol=1e-10, atol=1e-12)
    D0, s0 = portrait.tail_from_start([0.2, -0.5, 0.8, 0.5])
    assert np.allclose(D0, [0.39, 0.0]) and np.allclose(s0, [1.0, -1.0])


def test_portraits_draw():
    prob = dl.Problem.scalar_chain(2, 1.0)
    run = {"w": np.array([[0.1, 1.2], [0.5, 1.1], [0.9, 1.0]]), "kind": "gd", "label": "gd"}
    fig, ax = style.figure()
    data = portrait.phase_portrait_data(prob, grid=21)
    assert data["critical_points"] == [(0.0, 0.0, "strict_saddle")]
    runs = portrait.overlay_runs([run, np.array([[1.0, -1.0], [0.5, -0.5]])])
    draw.phase_portrait(ax, data, runs)
    assert len(ax.lines) >= 4 and ax.get_legend() is not None
    fig, ax = style.figure()
    data = portrait.reduced_portrait_data(dl.Problem.scalar_chain(3, 1.0), grid=21)
    assert data["critical_lines"] == [(0.0, "strict_saddle")]
    draw.reduced_portrait(ax, data)
    assert ax.get_xlabel() == "$w_1$"
