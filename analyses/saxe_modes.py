"""Saxe et al. (2014): sigmoidal mode learning of a deep linear network from a decoupled start.

Target Phi = U diag(s) V^T (U, V random orthogonal, fixed seed), f = 0.5 ||W_M ... W_1 - Phi||^2.
Two layers, W_1 = diag(sqrt u0) V^T, W_2 = U diag(sqrt u0): the flow keeps W = U diag(u) V^T with
u' = 2 u (s - u), u(t) = s e^(2st) / (e^(2st) - 1 + s/u0) (closed_forms.saxe_mode), learnt by
time (1/(2s)) ln(uf (s - u0) / (u0 (s - uf))) (closed_forms.saxe_time). M layers, balanced start
W_1 = diag(a) V^T, W_l = diag(a), W_M = U diag(a), a = u0^(1/M): each layer stays diag(u^(1/M))
and u' = M u^(2 - 2/M) (s - u) (closed_forms.deep_saxe_mode: scipy DOP853, rtol 1e-12).
The measured mode strengths are diag(U^T W(t) V) of the simulated matrix flow.
"""

from __future__ import annotations

import numpy as np

NAME = "saxe_modes"
TITLE = "Saxe mode strengths: matrix flow vs closed form (2 layers) and the mode ODE (M layers)"
CONFIG = {"s": [3.0, 2.0, 1.0, 0.5], "seed": 0, "u0": 1e-3, "t1": 16.0, "n_save": 401,
          "deep_depth": 3, "u0_deep": 1e-2, "t1_deep": 24.0, "rtol": 1e-11, "atol": 1e-13,
          "solver": "tsit5"}
QUICK = {"s": [3.0, 2.0, 1.0, 0.5], "seed": 0, "u0": 1e-3, "t1": 16.0, "n_save": 101,
         "deep_depth": 3, "u0_deep": 1e-2, "t1_deep": 24.0, "rtol": 1e-12, "atol": 1e-14,
         "solver": "DOP853"}     # scipy: no diffrax compile


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    """Haar orthogonal matrix: Q of the QR of a Gaussian matrix, columns signed by diag(R)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def decoupled_start(U: np.ndarray, V: np.ndarray, u0: float, depth: int) -> tuple:
    """Balanced decoupled start with product U diag(u0) V^T: W_1 = diag(a) V^T, W_l = diag(a),
    W_M = U diag(a), a = u0^(1/M)."""
    d = U.shape[0]
    A = np.diag(np.full(d, u0 ** (1.0 / depth)))
    layers = [A @ V.T] + [A.copy() for _ in range(depth - 2)] + [U @ A]
    return tuple(layers)


def _modes(problem, traj, U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """diag(U^T W(t) V) at every saved time, and the largest off-diagonal entry."""
    import jax

    valid = np.asarray(traj.valid[0])
    params = tuple(P[0][valid] for P in traj.params)
    W = np.asarray(jax.vmap(problem.end_to_end)(params))
    M = np.einsum("ia,nij,jb->nab", U, W, V)
    diag = np.diagonal(M, axis1=1, axis2=2)
    off = M - np.einsum("na,ab->nab", diag, np.eye(M.shape[1]))
    return diag, np.abs(off).max(axis=(1, 2))


def _run(s: np.ndarray, U: np.ndarray, V: np.ndarray, u0: float, depth: int, t1: float,
         config: dict) -> dict:
    import dlnflow as dl

    problem = dl.Problem.target_matrix(U @ np.diag(s) @ V.T, depth=depth, width=len(s))
    save_at = np.linspace(0.0, t1, int(config["n_save"]))
    params0 = dl.init.explicit(problem, decoupled_start(U, V, u0, depth))
    traj = dl.simulate(dl.GradientFlow(problem), params0, t1=t1,
                       solver=dl.Solver(str(config["solver"]), rtol=float(config["rtol"]),
                                        atol=float(config["atol"])),
                       save=dl.SaveAt(ts=save_at))
    t = np.asarray(traj.t[0])[np.asarray(traj.valid[0])]
    measured, off = _modes(problem, traj, U, V)
    return {"problem": problem.describe(), "status": str(traj.status[0]), "t": t,
            "measured": measured, "offdiag_max": float(off.max())}


def _crossing(t: np.ndarray, u: np.ndarray, level: float) -> float:
    """First time u crosses ``level``, by a cubic spline of the saved curve (scipy)."""
    import scipy.interpolate
    import scipy.optimize

    i = int(np.argmax(u >= level))
    if i == 0:
        return float("nan")
    spl = scipy.interpolate.CubicSpline(t, u)
    return float(scipy.optimize.brentq(lambda x: spl(x) - level, t[i - 1], t[i], xtol=1e-14))


def compute(config: dict) -> dict:
    """Simulate both decoupled starts; compare with the closed form and the mode ODE."""
    from dlnflow.closed_forms import deep_saxe_mode, saxe_mode, saxe_time

    s = np.asarray(config["s"], dtype=float)
    rng = np.random.default_rng(int(config["seed"]))
    U, V = random_orthogonal(len(s), rng), random_orthogonal(len(s), rng)
    u0, u0d, M = float(config["u0"]), float(config["u0_deep"]), int(config["deep_depth"])

    two = _run(s, U, V, u0, 2, float(config["t1"]), config)
    t = two["t"]
    two["predicted"] = np.stack([saxe_mode(t, si, u0) for si in s], axis=1)
    rel = np.abs(two["measured"] - two["predicted"]) / two["predicted"]
    two["max_rel_error"] = float(rel.max())
    two["half_time_predicted"] = [saxe_time(si, u0, si / 2) for si in s]
    two["half_time_measured"] = [_crossing(t, two["measured"][:, i], s[i] / 2)
                                 for i in range(len(s))]

    deep = _run(s, U, V, u0d, M, float(config["t1_deep"]), config)
    td = deep["t"]
    deep["predicted"] = np.stack([deep_saxe_mode(td, si, u0d, M) for si in s], axis=1)
    rel = np.abs(deep["measured"] - deep["predicted"]) / deep["predicted"]
    deep["max_rel_error"] = float(rel.max())
    deep["depth"] = M
    return {"config": dict(config), "s": s, "U": U, "V": V, "two_layer": two, "deep": deep}


def render(data: dict, config: dict):
    """Mode strengths u_i(t): simulated (dots) over the closed form / ODE (lines)."""
    from dlnflow.plot.style import PALETTE, figure, paper_style

    s = np.asarray(data["s"], float)
    with paper_style():
        fig, axes = figure(columns=2, aspect=0.4, ncols=2)
        panels = (("two_layer", "2 layers: closed form u(t)", "closed form"),
                  ("deep", f"{data['deep']['depth']} layers: ODE u' = M u^(2-2/M)(s-u)", "ODE"))
        for ax, (key, title, ref) in zip(axes, panels, strict=True):
            d = data[key]
            t = np.asarray(d["t"], float)
            meas, pred = np.asarray(d["measured"], float), np.asarray(d["predicted"], float)
            step = max(1, len(t) // 40)
            for i, si in enumerate(s):
                col = PALETTE[i % len(PALETTE)]
                ax.plot(t, pred[:, i], color=col, lw=1.0,
                        label=f"s = {si:g}" + (f" ({ref})" if i == 0 else ""))
                ax.plot(t[::step], meas[::step, i], "o", color=col, ms=2.0)
            if key == "two_layer":
                for i, th in enumerate(d["half_time_predicted"]):
                    ax.axvline(th, color=PALETTE[i % len(PALETTE)], lw=0.5, ls=":")
            ax.set_title(f"{title}; max rel. error {d['max_rel_error']:.1e}")
            ax.set_xlabel("t")
            ax.set_ylabel(r"mode strength $u_i = (U^T W V)_{ii}$")
        axes[0].legend(frameon=False, loc="center right")
    return fig


def agreement(data: dict) -> list[dict]:
    """Saxe et al. (2014) closed form (two layers) and mode ODE (deep) against the simulated
    matrix flow: half-learning time of each mode, and the largest relative error overall."""
    two = data["two_layer"]
    rows = [{"quantity": f"two layers, s = {s:g}: time to half strength", "paper": float(p),
             "ours": float(m), "agreement": f"rel. diff {abs(m - p) / p:.1e}"}
            for s, p, m in zip(data["s"], two["half_time_predicted"], two["half_time_measured"],
                               strict=True)]
    rows.append({"quantity": "two layers: max rel. error of the mode strengths", "paper": 0.0,
                 "ours": float(two["max_rel_error"]), "agreement": "closed form"})
    rows.append({"quantity": f"depth {data['deep']['depth']}: max rel. error against the mode "
                 "ODE", "paper": 0.0, "ours": float(data["deep"]["max_rel_error"]),
                 "agreement": "mode ODE (DOP853)"})
    return rows
