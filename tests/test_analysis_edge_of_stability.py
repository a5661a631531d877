"""edge_of_stability against plain numpy: GD iterated in numpy, the flow integrated by scipy's
solve_ivp on the numpy gradient, sharpness as numpy's eigvalsh of a central finite-difference
Hessian of the numpy gradient."""

import json

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from dlnflow.analyses import edge_of_stability as an
from dlnflow.analyses._eos_setting import SETTING, problem_and_start
from dlnflow.io import dumps


def numpy_problem(cfg):
    prob, p0 = problem_and_start(cfg)
    X = np.asarray(prob.objective.X)
    Y = np.asarray(prob.objective.Y)
    return X, Y, [np.asarray(W) for W in p0]


def loss_grad(Ws, X, Y):
    """0.5/n ||W_L...W_1 X - Y||^2 and its gradient by backpropagation."""
    n = X.shape[1]
    acts = [X]
    for W in Ws:
        acts.append(W @ acts[-1])
    R = (acts[-1] - Y) / n
    loss = 0.5 * n * np.sum(R * R)
    grads, back = [], R
    for W, a in zip(reversed(Ws), reversed(acts[:-1]), strict=True):
        grads.append(back @ a.T)
        back = W.T @ back
    return loss, grads[::-1]


def flat(Ws):
    return np.concatenate([W.ravel() for W in Ws])


def unflat(v, shapes):
    out, i = [], 0
    for s in shapes:
        out.append(v[i:i + s[0] * s[1]].reshape(s))
        i += s[0] * s[1]
    return out


def fd_sharpness(Ws, X, Y, h=1e-5):
    """Top eigenvalue of the central-difference Hessian (error O(h^2), ~1e-8 relative here)."""
    shapes = [W.shape for W in Ws]
    v = flat(Ws)
    cols = []
    for e in np.eye(v.size):
        gp = flat(loss_grad(unflat(v + h * e, shapes), X, Y)[1])
        gm = flat(loss_grad(unflat(v - h * e, shapes), X, Y)[1])
        cols.append((gp - gm) / (2 * h))
    H = np.array(cols)
    return np.linalg.eigvalsh(0.5 * (H + H.T))[-1]


def numpy_gd(W0, X, Y, eta, steps):
    """Losses at k = 0..steps and the iterates."""
    Ws, losses, states = [W.copy() for W in W0], [], []
    for _ in range(steps + 1):
        loss, g = loss_grad(Ws, X, Y)
        losses.append(loss)
        states.append(Ws)
        Ws = [W - eta * G for W, G in zip(Ws, g, strict=True)]
    return np.array(losses), states


@pytest.fixture(scope="module")
def quick():
    return an.compute(an.QUICK)


def test_flow_sharpens_progressively(quick):
    """The flow's sharpness at five of its samples against solve_ivp + FD Hessians."""
    cfg = an.QUICK["settings"][0]
    X, Y, W0 = numpy_problem(cfg)
    shapes = [W.shape for W in W0]
    fl = quick["settings"][0]["flow"]
    ts, S = np.asarray(fl["t_sharpness"]), np.asarray(fl["sharpness"])
    pick = np.linspace(0, ts.size - 1, 5).round().astype(int)

    def rhs(_, v):
        return -flat(loss_grad(unflat(v, shapes), X, Y)[1])

    sol = solve_ivp(rhs, (0.0, ts[-1]), flat(W0), method="DOP853", t_eval=ts[pick],
                    rtol=1e-11, atol=1e-13)
    ref = np.array([fd_sharpness(unflat(v, shapes), X, Y) for v in sol.y.T])
    # analysis solve at rtol 1e-7 (QUICK): its states, hence sharpness, to ~1e-6 relative
    np.testing.assert_allclose(S[pick], ref, rtol=1e-5)
    assert S[0] == pytest.approx(fd_sharpness(W0, X, Y), rel=1e-8)
    assert fl["loss_final"] == pytest.approx(loss_grad(unflat(sol.y[:, -1], shapes), X, Y)[0],
                                             rel=1e-5)
    # progressive sharpening: gradual (increasing at every checkpoint) and 3-fold by t = 8
    assert np.all(np.diff(ref) > 0)
    assert ref[-1] > 3 * ref[0]
    # every 2/eta of QUICK lies between the flow's start and end sharpness
    for r in quick["settings"][0]["runs"]:
        assert ref[0] < r["threshold"] < ref[-1]


def test_gd_at_the_edge_against_numpy(quick):
    cfg = an.QUICK["settings"][0]
    X, Y, W0 = numpy_problem(cfg)
    flow_end = quick["settings"][0]["flow"]["loss_final"]
    for r in quick["settings"][0]["runs"]:
        eta, thr = r["eta"], r["threshold"]
        N = int(round(cfg["horizon"] / eta))
        losses, states = numpy_gd(W0, X, Y, eta, N)
        ts, S = np.asarray(r["t_sharpness"]), np.asarray(r["sharpness"])
        ks = np.rint(ts / eta).astype(int)
        i = int(np.argmin(np.abs(ts - r["t_cross"])))
        k0 = ks[i]
        # up to the crossing GD is the same map in numpy and JAX to round-off
        np.testing.assert_allclose(r["loss"][:k0 + 1], losses[:k0 + 1], rtol=1e-9)
        for j in (i - 1, i):
            assert S[j] == pytest.approx(fd_sharpness(states[ks[j]], X, Y), rel=1e-6)
        assert S[i - 1] < thr <= S[i]
        # After it the top direction is unstable and grows from round-off, so numpy's and
        # JAX's iterates part (at eta = 0.012 the losses differ by O(1) at a catapult spike,
        # 1e-3 at the end). Compared: the statistics, each from numpy's own run and Hessians.
        ratio = np.array([fd_sharpness(states[k], X, Y) for k in ks[i:]]) / thr
        assert abs(ratio.mean() - 1) <= an.HOVER_TOL
        assert r["ratio_mean"] == pytest.approx(ratio.mean(), abs=0.02)
        rose = np.mean(np.diff(losses[k0:]) > 0)
        assert rose > 0.005
        assert r["loss_rose_fraction_after"] == pytest.approx(rose, abs=0.02)
        # the loss keeps falling, as the flow's does (its end: checked against solve_ivp above)
        assert losses[-1] < losses[k0]
        assert losses[-1] / flow_end == pytest.approx(1.0, abs=0.5)     # measured 1.05-1.42
        assert r["loss_final"] == pytest.approx(losses[-1], rel=0.02)
        assert an.at_edge(r)


def test_plateau_setting_oscillates_instead():
    """L=6 (flow sharpness jumps to a plateau): at eta = 0.055 (2/eta = 36.4 below the plateau
    at 40) GD settles into a period-2 oscillation whose phases straddle 2/eta; numpy GD and FD
    Hessians at two consecutive late iterates show it, and the analysis does not call it the
    edge of stability."""
    cfg = {"settings": [{**an.PLATEAU, "horizon": 6.0, "etas": [0.055]}], "samples": 31,
           "rtol": 1e-7, "atol": 1e-9}
    r = an.compute(cfg)["settings"][0]["runs"][0]
    X, Y, W0 = numpy_problem(SETTING)
    N = int(round(6.0 / 0.055))
    losses, states = numpy_gd(W0, X, Y, 0.055, N)
    s_a, s_b = (fd_sharpness(states[k], X, Y) for k in (N - 1, N))
    assert min(s_a, s_b) < 2 / 0.055 < max(s_a, s_b)
    assert np.mean(np.diff(losses[N // 2:]) > 0) == pytest.approx(0.5, abs=0.05)
    assert r["loss_rose_fraction_after"] > 0.4
    assert not an.at_edge(r)


def test_render(quick):
    fig = an.render(json.loads(dumps(quick)), an.QUICK)
    ax1 = fig.axes[1]
    thr = sorted(ln.get_ydata()[0] for ln in ax1.get_lines() if ln.get_linestyle() == ":")
    np.testing.assert_allclose(thr, sorted(2 / e for e in an.QUICK["settings"][0]["etas"]),
                               rtol=1e-12)
