"""dlnflow.continuation against closed forms and independent references: the logistic map
(period doublings at r = 3 and 1 + sqrt(6), the period-3 fold at 1 + sqrt(8)), balanced scalar
chains (first doubling at 2 / (L |y|^(2-2/L)), period-2 orbits against GD iterated to
convergence, the second doubling against a plain numpy/scipy computation on the balanced line),
full-space fixed points with phase conditions (doubling at 2 / lambda_max of the minimum reached,
lambda_max from the Hessian's closed form or dense eigh)."""

import numpy as np
import pytest
import scipy.optimize

import dlnflow as dl
from dlnflow import continuation as ct
from dlnflow import rates
from dlnflow.continuation.corrector import augmented_jacobian, correct
from dlnflow.continuation.families import _layers
from dlnflow.continuation.palc import start_point

LOGISTIC = ct.FunctionFamily(lambda x, r: r * x * (1 - x), 1)


def _doublings(diagram, period=None):
    return [p for p in diagram.points if p.kind == "period_doubling"
            and (period is None or p.period == period)]


def test_logistic_period_doublings_closed_form():
    d = ct.continue_cascade(LOGISTIC, np.array([0.6]), (2.5, 3.5), max_period=4)
    pd1, pd2 = _doublings(d, 1), _doublings(d, 2)
    assert len(pd1) == 1 and len(pd2) == 1
    assert abs(pd1[0].eta - 3.0) < 1e-12
    assert abs(pd2[0].eta - (1 + np.sqrt(6))) < 1e-12
    assert abs(pd1[0].multipliers[0] + 1) < 1e-10 and abs(pd2[0].multipliers[0] + 1) < 1e-10
    # fixed point 1 - 1/r; the period-2 orbit x = (r + 1 +- sqrt((r-3)(r+1))) / (2r)
    b1, b2 = d.branches[0], d.branches[1]
    assert np.max(np.abs(b1.orbit[:, 0, 0] - (1 - 1 / b1.eta))) < 1e-13
    r = b2.eta[1:]
    x2 = (r + 1 + np.sqrt((r - 3) * (r + 1))) / (2 * r)
    err = np.abs(b2.orbit[1:, :, 0].max(axis=1) - x2)
    # near r = 3 the reference itself loses digits (sqrt(r - 3) of a rounded r - 3)
    assert np.max(err[r - 3 > 1e-4]) < 1e-13 and np.max(err) < 1e-10
    # stability: fixed point stable for r < 3, period 2 for 3 < r < 1 + sqrt(6)
    assert np.array_equal(b1.stable, b1.eta < 3.0)
    assert np.array_equal(b2.stable[1:], b2.eta[1:] < 1 + np.sqrt(6))


def test_fold_of_logistic_period_three():
    # the period-3 window opens in a fold (saddle-node) at r = 1 + sqrt(8)
    x, r = 0.5, 3.835
    for _ in range(3000):
        x = r * x * (1 - x)
    opts = ct.ContinuationOptions()
    c = start_point(LOGISTIC, np.array([x]), r, 3, opts)
    assert c.ok
    b = ct.continue_branch(LOGISTIC, c.x, c.eta, 3, (3.82, 3.86), opts, t0=np.array([0.0, -1.0]))
    folds = [p for p in b.points if p.kind == "fold"]
    assert len(folds) == 1
    assert abs(folds[0].eta - (1 + np.sqrt(8))) < 1e-10
    assert abs(folds[0].multipliers[0] - 1) < 1e-6
    # the branch turns: eta decreases to the fold, then increases on the unstable side
    assert b.eta.min() == pytest.approx(1 + np.sqrt(8), abs=1e-4) and b.eta[-1] == 3.86
    assert b.stable[0] and not b.stable[-1]


@pytest.mark.parametrize("L,y", [(2, 1.0), (3, 2.0), (4, 0.7), (3, -1.5)])
def test_first_doubling_of_balanced_chain(L, y):
    lam = L * abs(y) ** (2 - 2 / L)
    assert lam == pytest.approx(rates.balanced_lambda_max(L, y), rel=1e-15)
    thr = 2 / lam
    d = ct.gd_continuation(dl.Problem.scalar_chain(L, y), (0.5 * thr, 1.5 * thr), max_period=2)
    (pd,) = _doublings(d, 1)
    assert abs(pd.eta - thr) < 1e-8 * thr
    assert abs(pd.multipliers[0] + 1) < 1e-8
    w = d.start
    assert np.allclose(w, np.sign(y) * abs(y) ** (1 / L), rtol=1e-14)
    # full-space multipliers on the minimum set's quotient: one, 1 - eta lambda_max
    b = d.branches[0]
    assert np.allclose(b.multipliers[:, 0].real, 1 - b.eta * lam, atol=1e-12)
    assert np.array_equal(b.stable, b.eta < thr)
    # the period-2 branch is born at the doubling and is stable just after it
    b2 = d.branches[1]
    assert b2.period == 2 and b2.eta[0] == pd.eta and b2.stable[1]


def _gd_two_cycle(L, y, eta, u0, steps=20000):
    """GD on the chain iterated in plain numpy from a balanced start until it settles on its
    2-cycle; the two products, sorted."""
    w = np.full(L, u0)
    for _ in range(steps):
        p = np.prod(w)
        w = w - eta * (p - y) * np.array([np.prod(np.delete(w, i)) for i in range(L)])
    p1 = np.prod(w)
    p2 = np.prod(w - eta * (p1 - y) * np.array([np.prod(np.delete(w, i)) for i in range(L)]))
    return np.sort([p1, p2])


@pytest.mark.parametrize("L", [2, 3])
def test_period_two_branch_matches_gd_iterated_to_convergence(L):
    y = 1.0
    thr = 2 / (L * y ** (2 - 2 / L))
    prob = dl.Problem.scalar_chain(L, y)
    d = ct.gd_continuation(prob, (0.5 * thr, 1.4 * thr), max_period=2)
    b2 = d.branches[1]
    checked = 0
    for frac in (1.05, 1.1, 1.15, 1.2):
        orbit, mu = ct.point_at(d.families[1], b2, frac * thr)
        if np.max(np.abs(mu)) > 0.97:      # slow convergence of plain GD: not a fair check
            continue
        ref = _gd_two_cycle(L, y, frac * thr, 0.8)
        assert np.max(np.abs(np.sort(np.prod(orbit, axis=1)) - ref)) < 1e-8
        checked += 1
    assert checked >= 2


def _balanced_two_layer_reference(y=1.0):
    """On the balanced line of two layers u -> g(u) = u - eta u (u^2 - y): the upper point of
    the 2-cycle at eta, and the eta where it doubles (g'(u1) g'(u2) = -1), by scipy brentq on
    plain numpy."""

    def g(u, eta):
        return u - eta * u * (u ** 2 - y)

    def dg(u, eta):
        return 1 - eta * (3 * u ** 2 - y)

    def cycle(eta):
        u1 = scipy.optimize.brentq(lambda u: g(g(u, eta), eta) - u, np.sqrt(y) + 1e-6,
                                   1.5 * np.sqrt(y), xtol=1e-15)
        return u1, g(u1, eta)

    def test(eta):
        u1, u2 = cycle(eta)
        return dg(u1, eta) * dg(u2, eta) + 1

    return cycle, scipy.optimize.brentq(test, 1.1 / y, 1.3 / y, xtol=1e-15)


def test_second_doubling_against_numpy_balanced_map():
    _, ref = _balanced_two_layer_reference()
    d = ct.gd_continuation(dl.Problem.scalar_chain(2, 1.0), (0.5, 1.3), max_period=4)
    (pd2,) = _doublings(d, 2)
    assert abs(pd2.eta - ref) < 1e-10
    assert d.branches[2].period == 4 and d.branches[2].eta[0] == pd2.eta


def test_matrix_problem_period_two_branch_with_phase_conditions():
    # 0.5 ||W2 W1 - diag(1, 0.5)||^2 from a balanced diagonal start: the top mode doubles at
    # eta = 1 while the other rests at its minimum, so the 2-cycles come in a family (that
    # mode's rescaling) besides the O(2) symmetry: two phase conditions, measured; the mode
    # oscillates as the balanced two-layer chain (numpy reference) and doubles again where it
    W = np.diag([1.0, np.sqrt(0.5)])
    prob = dl.Problem.target_matrix(np.diag([1.0, 0.5]), depth=2, width=2)
    d = ct.gd_continuation(prob, (0.3, 1.4), start=(0.9 * W, 0.9 * W), max_period=2)
    cycle, ref = _balanced_two_layer_reference()
    (b1, b2) = d.branches
    assert b2.period == 2 and b2.end == "eta_max"
    (pd2,) = _doublings(d, 2)
    assert abs(pd2.eta - ref) < 1e-9
    fam = d.families[1]
    x0 = b2.x[0]
    for a, b in zip(_layers(prob, x0), prob.unflatten(x0), strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))
    i = int(np.searchsorted(b2.eta, 1.1))
    assert fam.null_basis(b2.x[i], b2.eta[i], 2).shape[1] == 2
    orbit, _ = ct.point_at(fam, b2, 1.1)
    prods = [np.asarray(prob.end_to_end(prob.unflatten(x))) for x in orbit]
    u1, u2 = cycle(1.1)
    np.testing.assert_allclose(np.sort([P[0, 0] for P in prods]), np.sort([u1 ** 2, u2 ** 2]),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose([P[1, 1] for P in prods], 0.5, rtol=0, atol=1e-10)
    np.testing.assert_allclose([P[0, 1] for P in prods] + [P[1, 0] for P in prods], 0.0,
                               atol=1e-10)


@pytest.mark.parametrize("w0", [[0.5, 1.5], [0.6, 0.9, 1.4]])
def test_full_space_fixed_point_with_phase_conditions(w0):
    # non-balanced start: GD at the first eta settles on a minimum w* of the chain; it is
    # continued in the full space with the minimum set's tangent as phase condition, and
    # doubles at 2 / lambda_max(w*), lambda_max = sum_i (y / w*_i)^2 (H = grad p grad p^T)
    L, y = len(w0), 1.0
    prob = dl.Problem.scalar_chain(L, y)
    d = ct.gd_continuation(prob, (0.2, 1.5), start=w0, max_period=2)
    w = d.start
    assert abs(np.prod(w) - y) < 1e-12
    lam = float(np.sum((y / w) ** 2))
    assert lam == pytest.approx(rates.lambda_max_at(prob, w), rel=1e-10)
    (pd,) = _doublings(d, 1)
    assert abs(pd.eta - 2 / lam) < 1e-8 * pd.eta
    # the symmetry direction, measured: D G - I is singular along the minimum set (multiplier
    # exactly 1), the bordered system is not, and the unfolding parameters vanish
    fam = d.families[0]
    x = d.branches[0].x[0]
    eta = float(d.branches[0].eta[0])
    T = fam.null_basis(x, eta, 1)
    assert T.shape == (L, L - 1)
    A0 = augmented_jacobian(fam, x, eta, 1, T=np.zeros((L, 0)))[:, :L]
    A = augmented_jacobian(fam, x, eta, 1)
    A = np.delete(A, L, axis=1)                   # drop the eta column: square in (x, mu)
    s0, s = np.linalg.svd(A0, compute_uv=False), np.linalg.svd(A, compute_uv=False)
    assert s0[-1] < 1e-12 * s0[0] and s[-1] > 1e-2 * s[0]
    e = np.zeros(L + 1)
    e[-1] = 1.0
    c = correct(fam, 1, np.concatenate([x, [eta]]), e, 0.01, ct.ContinuationOptions())
    assert c.ok and np.max(np.abs(c.mu)) < 1e-12 and np.allclose(c.x, x, atol=1e-12)


def test_matrix_problem_doubling_at_dense_hessian_eigenvalue():
    # a small matrix problem (any problem): 0.5 ||W2 W1 - diag(1, 0.5)||^2, width 2; its
    # minimum reached from a random start is continued with the GL(2) tangent as phase
    # condition; multipliers 1 - eta lambda for the nonzero Hessian eigenvalues (dense eigh)
    prob = dl.Problem.target_matrix(np.diag([1.0, 0.5]), depth=2, width=2)
    rng = np.random.default_rng(3)
    start = prob.unflatten(np.asarray(0.7 * rng.standard_normal(prob.num_params)))
    d = ct.gd_continuation(prob, (0.05, 1.5), start=start, max_period=1)
    x = d.start
    H = np.asarray(prob.hessian(prob.unflatten(x)))
    lam = np.linalg.eigvalsh(H)
    nonzero = lam[lam > 1e-8 * lam[-1]]
    assert len(nonzero) == prob.num_params - 4      # the minimum set is a GL(2) orbit
    # every multiplier 1 - eta lambda crosses -1 at its own eta = 2 / lambda (those in range)
    expected = np.sort(2 / nonzero[(2 / nonzero > 0.05) & (2 / nonzero < 1.5)])
    found = np.sort([p.eta for p in _doublings(d, 1)])
    assert len(expected) >= 2 and found.shape == expected.shape
    assert np.max(np.abs(found - expected) / expected) < 1e-8
    b = d.branches[0]
    i = len(b.eta) // 2
    assert np.allclose(np.sort(b.multipliers[i].real), np.sort(1 - b.eta[i] * nonzero),
                       atol=1e-10)


@pytest.mark.parametrize("L, y", [(2, -1.0), (4, -0.7)])
def test_negative_target_at_even_depth_doubles_at_the_closed_form(L, y):
    """On the signed balanced line the minimum's lambda_max is L |y|^(2-2/L), as for y > 0."""
    threshold = 2 / (L * abs(y) ** (2 - 2 / L))
    d = ct.gd_continuation(dl.Problem.scalar_chain(L, y), (0.05, 1.5 * threshold), max_period=1)
    first = next(p for p in d.points if p.kind == "period_doubling")
    assert first.eta == pytest.approx(threshold, rel=1e-8)
    assert np.prod(d.start) == pytest.approx(y, rel=1e-12)


def test_balanced_line_is_invariant_and_refuses_bad_problems():
    fam = ct.balanced_line(dl.Problem.scalar_chain(4, 1.3))
    assert fam.defect(np.array([0.9]), 0.4) < 1e-15
    # the line w = (z, 1, 1, 1) is not invariant: one step moves w_2..w_4 by eta z (z - y) each
    off = ct.Subspace(fam.parent, [0.0, 1.0, 1.0, 1.0], np.array([[1.0], [0.0], [0.0], [0.0]]))
    assert off.defect(np.array([0.9]), 0.4) == pytest.approx(0.4 * 0.9 * 0.4 * np.sqrt(3),
                                                              rel=1e-12)
    # y < 0 at even depth: the signed line w = (a, ..., a, -a) is invariant and holds the minimum
    neg = dl.Problem.scalar_chain(4, -1.3)
    assert ct.balanced_line(neg).defect(np.array([0.9]), 0.4) < 1e-15
    w = ct.balanced_minimum(neg)
    assert np.allclose(w, 1.3 ** 0.25 * np.array([1, 1, 1, -1]), rtol=1e-15)
    with pytest.raises(dl.InputError):
        ct.balanced_minimum(dl.Problem.scalar_chain(3, 0.0))
    with pytest.raises(dl.InputError):
        ct.continue_cascade(LOGISTIC, np.array([0.5]), (3.0, 2.0))
    prob = dl.Problem.scalar_chain(2, 1.0)
    for bad in ([[0.5, 1.5], [0.5, 1.5]], "ab", [0.5], [0.5, np.nan]):
        with pytest.raises(dl.InputError):
            ct.gd_continuation(prob, (0.2, 1.5), start=bad)


def test_transverse_multiplier_of_two_layer_cycles_closed_form():
    # two layers: w1 - w2 -> (w1 - w2)(1 + eta r), r = w1 w2 - y, so off the balanced line a
    # period-p cycle has the transverse multiplier prod_k (1 + eta r_k); it reaches -1 at
    # eta = 2 on the period-2 branch (y = 1), a doubling that leaves the balanced line
    d = ct.gd_continuation(dl.Problem.scalar_chain(2, 1.0), (0.5, 2.2), max_period=2)
    b = d.branches[1]
    for i in range(1, len(b.eta), 7):
        r = np.prod(b.orbit[i], axis=1) - 1.0
        trans = np.prod(1 + b.eta[i] * r)
        assert np.min(np.abs(b.multipliers[i] - trans)) < 1e-9 * max(1.0, abs(trans))
    off = [p for p in _doublings(d, 2) if p.eta > 1.5]
    assert len(off) == 1 and abs(off[0].eta - 2.0) < 1e-9
    assert len(d.branches) == 2 and d.notes == []      # max_period 2: no switch to period 4


def test_symmetry_breaking_doubling_switches_in_full_space():
    # the doubling at eta = 2 of the balanced 2-cycle (two layers) has no multiplier -1 along
    # the line: its period-4 branch is switched onto in the full space and leaves the line;
    # each of its points is a 4-cycle of GD iterated in plain numpy
    d = ct.gd_continuation(dl.Problem.scalar_chain(2, 1.0), (0.5, 2.2), max_period=4)
    (k,) = [i for i, b in enumerate(d.branches) if b.period == 4 and b.eta[0] > 1.9]
    assert isinstance(d.families[k], ct.GDFamily) and d.branches[k].parent == 1
    b = d.branches[k]
    for i in range(1, len(b.eta), 5):
        w0 = b.orbit[i, 0]
        w = w0.copy()
        for _ in range(4):
            w = w - b.eta[i] * (w[0] * w[1] - 1.0) * w[::-1]
        assert np.max(np.abs(w - w0)) < 1e-10
    assert np.max(np.abs(b.orbit[-1, :, 0] - b.orbit[-1, :, 1])) > 1e-2


@pytest.mark.parametrize("L", [2, 3])
def test_fold_opening_the_period_three_window_of_gd(L):
    # GD on the balanced line u -> g(u) = u - eta u^(L-1) (u^L - 1) has a period-3 window past
    # the cascade; it opens in a fold: g^3(u) = u and (g^3)'(u) = 1, solved here in plain
    # numpy with scipy fsolve from the continued fold
    def g(u, e):
        return u - e * u ** (L - 1) * (u ** L - 1)

    def dg(u, e):
        return 1 - e * (L * u ** (2 * L - 2) + (L - 1) * u ** (L - 2) * (u ** L - 1))

    def fold_eqs(v):
        u, e = v
        d = 1.0
        for _ in range(3):
            d, u = d * dg(u, e), g(u, e)
        return [u - v[0], d - 1]

    thr = 2 / L
    eta0 = {2: 1.455, 3: 1.49}[L] * thr            # inside the window (brute force)
    u = 0.5
    for _ in range(5000):
        u = g(u, eta0)
    fam = ct.balanced_line(dl.Problem.scalar_chain(L, 1.0))
    d = ct.continue_orbit(fam, np.array([np.sqrt(L) * u]), eta0, 3, (1.3 * thr, 1.6 * thr))
    (fold,) = [p for p in d.points if p.kind == "fold"]
    assert fold.eta < eta0 and abs(fold.multipliers[0] - 1) < 1e-6
    u_f = fold.orbit[0, 0]
    sol = scipy.optimize.fsolve(fold_eqs, [u_f, fold.eta * (1 + 1e-4)], xtol=1e-15)
    assert np.max(np.abs(fold_eqs(sol))) < 1e-12
    assert abs(sol[1] - fold.eta) < 1e-10 and abs(sol[0] - u_f) < 1e-7
    # the branch through the start is stable there; past the fold the partner is unstable
    down = d.branches[0]
    assert down.stable[0] and not down.stable[-1] and down.eta.min() == pytest.approx(
        fold.eta, abs=1e-3)
