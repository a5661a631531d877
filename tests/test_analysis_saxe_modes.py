"""saxe_modes: the simulated mode strengths diag(U^T W V) follow Saxe's closed form (2 layers) and
the time integral of u' = M u^(2-2/M)(s - u) (deep), with W staying U diag(u) V^T."""

import json

import numpy as np

import dlnflow.analyses.saxe_modes as m
from dlnflow.closed_forms import balanced_chain_time, saxe_mode, saxe_time
from dlnflow.io import dumps


def test_saxe_modes_closed_form_and_deep_ode():
    data = m.compute(m.QUICK)
    s = np.asarray(m.QUICK["s"], float)
    two, deep = data["two_layer"], data["deep"]
    assert two["status"] == "completed" and deep["status"] == "completed"

    # two layers: u_i(t) = s e^(2st) / (e^(2st) - 1 + s/u0), every mode, every saved time
    t = np.asarray(two["t"])
    meas = np.asarray(two["measured"])
    u0 = m.QUICK["u0"]
    for i, si in enumerate(s):
        ref = saxe_mode(t, si, u0)
        assert np.max(np.abs(meas[:, i] - ref) / ref) < 1e-6, (si, meas[:, i] - ref)
        # the run reaches the sigmoid's top, so the check covers the whole transition
        assert meas[-1, i] > 0.99 * si
        th = saxe_time(si, u0, si / 2)
        assert abs(two["half_time_measured"][i] - th) < 1e-3 * th
    assert two["offdiag_max"] < 1e-9  # the decoupled start stays decoupled

    # deep: against the module's solve_ivp solution, and independently by quadrature: the time
    # the exact mode ODE needs from u0 to the measured u(t) must equal t
    M, u0d = deep["depth"], m.QUICK["u0_deep"]
    assert M == m.QUICK["deep_depth"] >= 3
    td, md = np.asarray(deep["t"]), np.asarray(deep["measured"])
    pred = np.asarray(deep["predicted"])
    assert np.max(np.abs(md - pred) / pred) < 1e-6
    assert deep["offdiag_max"] < 1e-9
    for i, si in enumerate(s):
        assert md[-1, i] > 0.99 * si
        sel = np.nonzero((td > 0) & (md[:, i] < 0.95 * si))[0]
        assert len(sel) >= 3
        for j in sel:
            tq = balanced_chain_time(M, si, u0d, md[j, i])
            assert abs(tq - td[j]) < 1e-6 * max(1.0, td[j]), (si, td[j], tq)

    fig = m.render(json.loads(dumps(data)), m.QUICK)
    assert len(fig.axes) == 2
