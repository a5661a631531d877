"""Statuses that mean the same on every backend, and depth that costs what it should.

References: a critical point (zero field) is stalled for GD and for every flow solver; a start
too stiff for the horizon fails with the step-size collapse named; float64 underflow of a deep
product is a failure, not a fixed point; a depth-1000 chain runs, and its GD iterates equal a
plain numpy GD that forms every partial product explicitly.
"""

from __future__ import annotations

import numpy as np
import pytest

import dlnflow as dl


@pytest.mark.parametrize("solver", ["rodas4", "tsit5", "Radau"])
def test_flow_at_a_critical_point_is_stalled_like_gd(solver):
    prob = dl.Problem.scalar_chain(3, 1.0)
    w0 = np.zeros(3)                                       # a saddle: the field is exactly 0
    flow = dl.simulate(dl.GradientFlow(prob), w0, t1=10.0, solver=solver,
                       stop=dl.Stop(loss=1e-8))
    gd = dl.simulate(dl.GradientDescent(prob, 0.1), w0, stop=dl.Stop(loss=1e-8, max_steps=50))
    assert flow.status == gd.status == [dl.Status.STALLED]
    assert "critical point" in flow.messages[0]
    np.testing.assert_array_equal(flow.scalar_weights()[0, -1], w0)


def test_stiff_start_fails_with_the_step_size_named():
    """w_i(0) = 1e3 (|f| ~ 1e15, time scale ~1e-13): rodas4 cannot step above 1e-14 t1 there;
    scipy's Radau, whose least step is relative to t, gets through and converges."""
    prob = dl.Problem.scalar_chain(3, 1.0)
    w0 = np.full(3, 1e3)
    ro = dl.simulate(dl.GradientFlow(prob), w0, t1=100.0, solver="rodas4",
                     stop=dl.Stop(loss=1e-8))
    assert ro.status == [dl.Status.SOLVER_FAILED]
    assert "1e-14 t1" in ro.messages[0] and "finite field" in ro.messages[0]
    ra = dl.simulate(dl.GradientFlow(prob), w0, t1=100.0, solver="Radau",
                     stop=dl.Stop(loss=1e-8))
    assert ra.status == [dl.Status.CONVERGED]
    assert ra.loss_final[0] == pytest.approx(1e-8, rel=1e-6)


def test_underflowed_product_is_a_failure_not_a_fixed_point():
    """0.5^1100 = 10^-331 is below float64's least subnormal: the product is stored as 0."""
    deep = dl.Problem.scalar_chain(1100, 1.0)
    tr = dl.simulate(dl.GradientDescent(deep, 0.1), np.full(1100, 0.5),
                     stop=dl.Stop(loss=1e-8, max_steps=20))
    assert tr.status == [dl.Status.SOLVER_FAILED]
    assert "underflow" in tr.messages[0] and "1e-331" in tr.messages[0]
    # 0.5^100 = 7.9e-31 is representable, but the step eta (p - 1) p / 0.5 ~ 1.6e-31 is below
    # the rounding of 0.5: GD stops at a fixed point of float64 only, and says so
    ok = dl.Problem.scalar_chain(100, 1.0)
    tr = dl.simulate(dl.GradientDescent(ok, 0.1), np.full(100, 0.5),
                     stop=dl.Stop(loss=1e-8, max_steps=20))
    assert tr.status == [dl.Status.STALLED]
    assert "float64 arithmetic only" in tr.messages[0] and "1.58e-30" in tr.messages[0]


def _numpy_gd(w, y, eta, steps):
    w = np.array(w, dtype=float)
    for _ in range(steps):
        p = np.prod(w)
        others = np.array([np.prod(np.delete(w, i)) for i in range(w.size)])
        w = w - eta * (p - y) * others
    return w


def test_depth_1000_gd_matches_numpy():
    L = 1000
    rng = np.random.default_rng(0)
    w0 = 1.0 + 0.02 * rng.standard_normal(L)
    prob = dl.Problem.scalar_chain(L, 2.0)
    tr = dl.simulate(dl.GradientDescent(prob, 1e-4), w0, stop=dl.Stop(max_steps=30),
                     save=dl.SaveAt(every=30))
    assert tr.status == [dl.Status.COMPLETED]
    np.testing.assert_allclose(tr.scalar_weights()[0, -1], _numpy_gd(w0, 2.0, 1e-4, 30),
                               rtol=1e-12)


def test_memory_limit_refuses_up_front_and_chunks(monkeypatch):
    """Sizes are checked before anything is allocated: a batch whose records cannot fit is
    refused with the estimate; a batch whose Jacobians cannot all be held at once is solved in
    chunks, with the same numbers as one batch."""
    prob = dl.Problem.scalar_chain(3, 1.0)
    monkeypatch.setenv("DLNFLOW_MEMORY_LIMIT", "1M")
    with pytest.raises(dl.InputError, match=r"1000000000 starts .* needs about 22.4 GB"):
        dl.init.by_name("lecun_normal", prob, key=0, batch=10**9)
    w0 = np.array([[0.5, 1.0, 1.5]] * 2)
    with pytest.raises(dl.InputError, match="recording 2 runs x 100001 records"):
        dl.simulate(dl.GradientDescent(prob, 0.1), w0, stop=dl.Stop(max_steps=100_000),
                    save=dl.SaveAt(every=1))
    matrix = dl.Problem.target_matrix(np.diag([2.0, 1.0]), depth=3, width=40)   # P = 1760
    with pytest.raises(dl.InputError, match="Jacobian of one run of 1760 parameters"):
        dl.simulate(dl.GradientFlow(matrix), dl.init.lecun_normal(matrix, key=0), t1=1.0,
                    solver="rodas4")
    # 640 B: the records (4 runs x 4 x (3 + 2) x 8 B) fit, 2 of the 216 B Jacobians at a time
    monkeypatch.setenv("DLNFLOW_MEMORY_LIMIT", "640")
    starts = np.array([[0.5, 1.0, 1.5], [0.3, -0.7, 1.2], [1.1, 0.9, 0.8], [0.2, 0.2, 2.0]])
    chunked = dl.simulate(dl.GradientFlow(prob), starts, t1=5.0, solver="rodas4",
                          save=dl.SaveAt(ts=[1.0, 2.0]))
    monkeypatch.delenv("DLNFLOW_MEMORY_LIMIT")
    whole = dl.simulate(dl.GradientFlow(prob), starts, t1=5.0, solver="rodas4",
                        save=dl.SaveAt(ts=[1.0, 2.0]))
    assert chunked.status == whole.status and chunked.batch_size == 4
    np.testing.assert_array_equal(chunked.t_final, whole.t_final)
    for a, b in zip(chunked.params_final, whole.params_final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("system", ["flow", "gd"])
def test_progress_goes_to_stderr_only(system, capfd, monkeypatch):
    """With progress on, a run reports how far it has got on stderr (throttle off here), and
    its numbers are those of a run without progress."""
    from dlnflow.simulate import progress

    monkeypatch.setattr(progress, "PERIOD", 0.0)
    prob = dl.Problem.scalar_chain(3, 1.0)
    w0 = np.array([[0.5, 1.0, 1.5], [0.3, -0.7, 1.2]])
    if system == "flow":
        run = lambda **kw: dl.simulate(dl.GradientFlow(prob), w0, t1=1e3,  # noqa: E731
                                       solver=dl.Solver("rodas4", rtol=1e-13, atol=1e-15),
                                       **kw)
    else:
        run = lambda **kw: dl.simulate(dl.GradientDescent(prob, 0.001), w0,  # noqa: E731
                                       stop=dl.Stop(max_steps=5000), **kw)
    quiet = run()
    capfd.readouterr()
    loud = run(progress=True)
    out, err = capfd.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) >= 2 and lines[-1].startswith(("GradientFlow: done", "GradientDescent: done"))
    assert "runs finished" in lines[0]
    for a, b in zip(quiet.params_final, loud.params_final, strict=True):
        np.testing.assert_array_equal(a, b)


def test_depth_1000_flow_against_exact_reduction():
    """The flow of a depth-1000 chain (a Shamir-scale experiment) runs on rodas4 and agrees
    with the exact 1-D reduction to 100 rtol."""
    from dlnflow.scalar_chain import reduced_flow

    L = 1000
    w0 = 1.0 + 0.01 * np.random.default_rng(1).standard_normal(L)
    prob = dl.Problem.scalar_chain(L, 2.0)
    rtol = 1e-8
    tr = dl.simulate(dl.GradientFlow(prob), w0, t1=0.5, solver=dl.Solver(rtol=rtol, atol=1e-10))
    ref = reduced_flow(prob, w0, np.array([0.0, 0.5]), rtol=1e-12, atol=1e-14)[-1]
    assert tr.status == [dl.Status.COMPLETED]
    np.testing.assert_allclose(tr.scalar_weights()[0, -1], ref, rtol=100 * rtol, atol=0)


@pytest.mark.parametrize("call,match", [
    (lambda: dl.Problem.scalar_chain(2**31), "depth 2147483648 needs about"),
    (lambda: dl.Stop(max_steps=10**20), "at most 2"),
    (lambda: dl.GradientFlow(3), "needs a dlnflow.Problem"),
    (lambda: dl.GradientDescent("x", 0.1), "needs a dlnflow.Problem"),
    (lambda: dl.Problem("x", "y"), "architecture must be"),
])
def test_misuse_is_an_input_error(call, match):
    with pytest.raises(dl.InputError, match=match):
        call()
