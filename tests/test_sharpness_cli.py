"""`dlnflow gd/flow --track-sharpness K --json`: [iteration or t, sharpness] pairs per start,
checked against ``sharpness`` at independently computed states of the same runs."""

import json

import jax
import numpy as np
import pytest

import dlnflow as dl
from dlnflow.cli import main
from dlnflow.sharpness import sharpness


def run_json(capsys, argv):
    rc = main(argv + ["--json"])
    out = capsys.readouterr().out
    assert rc == 0
    return json.loads(out)


def numpy_chain_gd(w, y, eta, steps):
    """GD on 0.5 (w_L...w_1 - y)^2: w_i <- w_i - eta (p - y) p / w_i (no zero weights here)."""
    out = [np.array(w, dtype=float)]
    for _ in range(steps):
        v = out[-1]
        p = np.prod(v)
        out.append(v - eta * (p - y) * p / v)
    return out


def test_gd_single_start_against_numpy_iterates(capsys):
    w0, y, eta = [0.3, 0.5, 0.4], 2.0, 0.05
    out = run_json(capsys, ["gd", "--depth", "3", "--target", "2", "--init", "0.3,0.5,0.4",
                            "--eta", "0.05", "--max-steps", "35", "--track-sharpness", "10"])
    ks = [pair[0] for pair in out["sharpness"]]
    assert ks == [0, 10, 20, 30, 35]
    prob = dl.Problem.scalar_chain(3, y)
    iterates = numpy_chain_gd(w0, y, eta, 35)
    ref = [sharpness(prob, iterates[k], method="dense") for k in ks]
    np.testing.assert_allclose([pair[1] for pair in out["sharpness"]], ref, rtol=1e-10)
    assert out["sharpness_final"] == pytest.approx(ref[-1], rel=1e-10)


def test_gd_batched_one_list_per_start_ending_at_each_stop(capsys):
    argv = ["gd", "--depth", "3", "--target-diag", "1,0.5", "--init-kind", "lecun_normal",
            "--seeds", "2", "--seed", "3", "--eta", "0.1", "--stop-at-loss", "1e-4",
            "--max-steps", "500", "--track-sharpness", "25"]
    out = run_json(capsys, argv)
    prob = dl.Problem.target_matrix(np.diag([1.0, 0.5]), depth=3, width=2)
    starts = dl.init.by_name("lecun_normal", prob, jax.random.PRNGKey(3), batch=2)
    ref = dl.simulate(dl.GradientDescent(prob, 0.1), starts,
                      stop=dl.Stop(loss=1e-4, max_steps=500), save=dl.SaveAt(every=1))
    assert len(out["sharpness"]) == 2 and len(out["sharpness_final"]) == 2
    for b, pairs in enumerate(out["sharpness"]):
        ks = [k for k, _ in pairs]
        assert ks == list(range(0, out["iterations"][b], 25)) + [out["iterations"][b]]
        assert ks[-1] == ref.steps[b]
        states = tuple(W[b, ks] for W in ref.params)
        np.testing.assert_allclose([v for _, v in pairs],
                                   sharpness(prob, states, method="dense"), rtol=1e-10)
        assert out["sharpness_final"][b] == pairs[-1][1]


def test_flow_against_a_solve_at_the_same_times(capsys):
    argv = ["flow", "--depth", "3", "--target", "2", "--init-kind", "near_identity",
            "--seeds", "2", "--t1", "2", "--track-sharpness", "0.5"]
    out = run_json(capsys, argv)
    prob = dl.Problem.scalar_chain(3, 2.0)
    starts = dl.init.by_name("near_identity", prob, jax.random.PRNGKey(0), batch=2)
    ref = dl.simulate(dl.GradientFlow(prob), starts, t1=2.0, save=dl.SaveAt(ts=[0.5, 1, 1.5]))
    for b, pairs in enumerate(out["sharpness"]):
        assert [t for t, _ in pairs] == [0.0, 0.5, 1.0, 1.5, 2.0]
        states = tuple(W[b] for W in ref.params)
        np.testing.assert_allclose([v for _, v in pairs], sharpness(prob, states), rtol=1e-12)
        assert out["sharpness_final"][b] == pairs[-1][1]


@pytest.mark.parametrize(("argv", "needle"), [
    (["gd", "--eta", "0.1", "--track-sharpness", "0"],
     "argument --track-sharpness: must be an integer from 1 to 2147483647, got '0'"),
    (["gd", "--eta", "0.1", "--track-sharpness", "1.5"],
     "argument --track-sharpness: must be an integer, got '1.5'"),
    (["flow", "--t1", "1", "--track-sharpness", "0"], "--track-sharpness must be positive, got "
                                                      "'0'"),
    (["flow", "--t1", "1", "--track-sharpness", "abc"],
     "--track-sharpness must be a finite number, got 'abc'"),
    (["flow", "--t1", "1", "--track-sharpness", "inf"],
     "--track-sharpness must be a finite number, got 'inf'"),
])
def test_bad_spacing_exits_2_with_one_line(capsys, argv, needle):
    try:
        rc = main([argv[0], "--depth", "2", "--init", "1,1", *argv[1:]])
    except SystemExit as exc:                   # argparse refuses the value itself
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
