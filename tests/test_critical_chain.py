"""The closed-form scalar-chain path (dlnflow.critical.chain, numpy, used by `dlnflow critical
--target`) against the autodiff path (critical_sets on Problem.scalar_chain): the same sets,
classes, counts and escape orders, and spectra equal to round-off."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
from fresh_cli import run_cli_fresh

import dlnflow as dl
from dlnflow.cli import main
from dlnflow.critical import chain_critical_sets, critical_sets
from dlnflow.critical.chain import chain_derivatives, chain_line_values
from dlnflow.rates import balanced_lambda_max

ROUND_OFF = 1e-14
"""Relative to the Hessian scale L |y|^(2 - 2/L): both paths sum the same products (a few
ulps each; measured differences are below 1e-15)."""


def _same_sets(fast, ref, depth, y):
    scale = max(balanced_lambda_max(depth, y), 1.0)
    assert [c.label for c in fast] == [c.label for c in ref]
    for a, b in zip(fast, ref, strict=True):
        assert (a.kind, a.predicted_kind, a.index, a.nullity, a.normal_nullity,
                a.escape_order, a.dimension) == (b.kind, b.predicted_kind, b.index, b.nullity,
                                                 b.normal_nullity, b.escape_order, b.dimension)
        assert a.loss == b.loss and a.invariant == b.invariant
        np.testing.assert_array_equal(np.ravel(a.point), np.ravel(b.point))
        np.testing.assert_allclose(a.hessian_eigenvalues, b.hessian_eigenvalues, rtol=0,
                                   atol=ROUND_OFF * scale)
        np.testing.assert_allclose(a.normal_eigenvalues, b.normal_eigenvalues, rtol=0,
                                   atol=ROUND_OFF * scale)
        assert a.tolerance == pytest.approx(b.tolerance, rel=1e-12)
        assert a.escape_directions.shape == b.escape_directions.shape


@pytest.mark.parametrize("depth,y", [(1, 2.0), (2, 1.0), (2, -0.3), (3, -2.0), (4, 1.0),
                                     (5, 3.5), (6, -0.7)])
def test_chain_sets_match_autodiff(depth, y):
    fast = chain_critical_sets(depth, y)
    ref = critical_sets(dl.Problem.scalar_chain(depth, y))
    _same_sets(fast, ref, depth, y)


def test_chain_derivatives_match_autodiff():
    """Closed-form Hessian, gradient, loss and line values at random (non-critical) points."""
    rng = np.random.default_rng(3)
    for depth in (1, 2, 4, 7):
        y = 1.3
        prob = dl.Problem.scalar_chain(depth, y)
        for _ in range(3):
            w = rng.normal(size=depth)
            x = prob.flatten(prob.scalar_params(w))
            H, g, f = chain_derivatives(w, y)
            np.testing.assert_allclose(H, jax.hessian(prob.loss_flat)(x), rtol=1e-13,
                                       atol=1e-14)
            np.testing.assert_allclose(g, jax.grad(prob.loss_flat)(x), rtol=1e-13, atol=1e-14)
            assert f == pytest.approx(float(prob.loss_flat(x)), rel=1e-13)
            V, ts = rng.normal(size=(4, depth)), np.linspace(-1.0, 1.0, 5)
            ref = [[float(prob.loss_flat(x + t * v)) for t in ts] for v in V]
            np.testing.assert_allclose(chain_line_values(w, y, V, ts), ref, rtol=1e-12)


def test_cli_target_uses_the_chain_path(capsys):
    """`dlnflow critical --target` prints the autodiff path's sets to round-off."""
    assert main(["critical", "--depth", "3", "--target", "-2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ref = critical_sets(dl.Problem.scalar_chain(3, -2.0))
    assert [r["label"] for r in rows] == [c.label for c in ref]
    for r, c in zip(rows, ref, strict=True):
        d = c.to_dict()
        assert {k: v for k, v in r.items() if not k.endswith("eigenvalues")} == {
            k: v for k, v in d.items() if not k.endswith("eigenvalues")}
        np.testing.assert_allclose(r["hessian_eigenvalues"], d["hessian_eigenvalues"], rtol=0,
                                   atol=ROUND_OFF * balanced_lambda_max(3, 2.0))


def test_chain_rejects_zero_target():
    with pytest.raises(dl.InputError, match="non-zero"):
        chain_critical_sets(3, 0.0)


def test_cli_chain_path_loads_no_autodiff_stack():
    """`dlnflow critical --target` imports neither the Problem stack (equinox) nor the solvers
    and the graph (optimistix, networkx, dlnflow.simulate): its latency is JAX's import."""
    out, loaded = run_cli_fresh(
        ["critical", "--depth", "3", "--target", "1", "--json"],
        ("equinox", "optimistix", "networkx", "dlnflow.problem", "dlnflow.simulate"))
    assert loaded == []
    assert out[0]["kind"] == "global_min"
