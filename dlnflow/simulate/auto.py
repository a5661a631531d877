"""The default flow solver, ``Solver("auto")``: the fastest backend for the system at hand.

* ``reduction`` for the gradient flow of a scalar chain (the exact 1-D reduction: every state on
  the flow's invariant set; 21x a loop of LSODA on the full chain, depth 6, 256 starts);
* ``rodas4`` (batched Rosenbrock, one P x P Jacobian and LU per step and run) for other
  autonomous flows of at most ``AUTO_STIFF_MAX_PARAMS`` parameters;
* ``tsit5`` (explicit, no Jacobian) above, and for flows that depend on t (rodas4 needs an
  autonomous field).

Measured (2 loaded cores, load ~6.5; GradientFlow of 0.5 ||W_4 ... W_1 - diag(1..2)||^2,
square layers, 8 Glorot-normal starts, t1 = 10, rtol 1e-8, atol 1e-10; first call with
compilation, then a second call):

    width 2 (P = 16):   rodas4 2.9 s / 0.28 s,   tsit5 4.9 s / 0.02 s
    width 4 (P = 64):   rodas4 3.2 s / 1.02 s,   tsit5 5.2 s / 0.05 s
    width 8 (P = 256):  rodas4 119 s / 88 s,     tsit5 5.5 s / 0.11 s,   kvaerno5 170 s / 109 s

(final states within 6e-9 of rodas4 for tsit5, 3e-8 for kvaerno5). Compilation included,
rodas4 wins up to P = 64 (its compile is shorter); its steps cost grows like P^3 (an LU per
step and run), tsit5's like P, and these flows are not stiff enough at this tolerance for the
implicit step sizes to pay that back: at P = 256 tsit5 is 20x faster. Hence the switch above
P = 64. With a warm compilation cache tsit5 is the faster one at every size measured; rodas4
is kept for small states, where a single call (compilation included) is what is waited for.
"""

from __future__ import annotations

import dataclasses

from .options import AUTO, Solver

AUTO_STIFF_MAX_PARAMS = 64
"""Largest state size (parameters) for which "auto" picks rodas4 rather than tsit5."""


def auto_solver_name(system) -> str:
    """The solver "auto" resolves to for ``system`` (see the module docstring)."""
    from . import reduction  # imports scipy: only when a flow is solved

    if reduction.supports(system):
        return "reduction"
    if not system.autonomous or system.state_problem.num_params > AUTO_STIFF_MAX_PARAMS:
        return "tsit5"
    return "rodas4"


def resolve(solver: Solver, system) -> Solver:
    """``solver`` with the name "auto" replaced by the choice for ``system``."""
    if solver.name != AUTO:
        return solver
    return dataclasses.replace(solver, name=auto_solver_name(system))
