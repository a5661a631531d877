"""Measured gradient-flow rate against Min-Vidal-Mallada's alpha* for imbalanced starts.

Scalar chains of depths 2 to 5, F = 0.5 (p - y)^2 (K = 2): the local rate ||grad F||^2/(F - F*)
= 2 sum_i prod_{j!=i} w_j^2 must stay >= 2 alpha* along the whole flow; it equals 2 alpha* at
t = 0 when 0 < p(0) < y (the start then lies on |p| = margin and minimises lambda_min).
"""

from __future__ import annotations

import numpy as np

NAME = "min_rate_bound"
TITLE = "Least measured flow rate vs 2 alpha* (Min-Vidal-Mallada), imbalanced starts, L = 2..5"
CONFIG = {"depths": [2, 3, 4, 5], "target": 1.5, "starts_per_depth": 12, "seed": 0,
          "low": 0.3, "high": 1.6, "t1": 10.0, "n_save": 401, "solver": "DOP853",
          "rtol": 1e-10, "atol": 1e-12}
QUICK = {**CONFIG, "starts_per_depth": 4, "t1": 8.0, "n_save": 81}


def _starts(rng, depth: int, n: int, low: float, high: float, y: float) -> np.ndarray:
    out = []
    while len(out) < n:
        w = rng.uniform(low, high, size=depth) * rng.choice([-1.0, 1.0], size=depth)
        p = np.prod(w)
        if 0.05 * y < p < 1.95 * y:            # positive margin, away from its edge
            out.append(w)
    return np.array(out)


def compute(config: dict) -> dict:
    import dlnflow as dl
    from dlnflow import bounds, rates

    y = float(config["target"])
    rng = np.random.default_rng(int(config["seed"]))
    t1 = float(config["t1"])
    rows = []
    for depth in config["depths"]:
        prob = dl.Problem.scalar_chain(int(depth), y)
        w = _starts(rng, int(depth), int(config["starts_per_depth"]), float(config["low"]),
                    float(config["high"]), y)
        tr = dl.simulate(dl.GradientFlow(prob), prob.scalar_params(w), t1=t1,
                         solver=dl.Solver(config["solver"], rtol=config["rtol"],
                                          atol=config["atol"]),
                         save=dl.SaveAt(ts=np.linspace(0, t1, int(config["n_save"]))[1:-1]))
        t, r = rates.local_rate(tr)
        for i in range(w.shape[0]):
            ok = np.isfinite(r[i])
            a = bounds.alpha_star_scalar(w[i], y)
            rows.append({
                "depth": int(depth), "start": w[i], "p0": float(np.prod(w[i])),
                "alpha_star": a, "rate_min": float(r[i][ok].min()),
                "rate_t0": float(r[i][0]), "t": t[i][ok], "rate": r[i][ok],
                "imbalance_spread": float(np.ptp(w[i] ** 2)), "status": str(tr.status[i]),
            })
    return {"config": dict(config), "target": y, "runs": rows}


def render(data: dict, config: dict):
    from dlnflow.plot import style

    fig, (ax0, ax1) = style.figure(columns=2, aspect=0.4, nrows=1, ncols=2)
    runs = data["runs"]
    depths = sorted({int(r["depth"]) for r in runs})
    for j, d in enumerate(depths):
        c = style.PALETTE[j % len(style.PALETTE)]
        sel = [r for r in runs if int(r["depth"]) == d]
        b = np.array([2 * float(r["alpha_star"]) for r in sel])
        m = np.array([float(r["rate_min"]) for r in sel])
        ax0.loglog(b, m, "o", color=c, label=f"L={d}")
        for r in sel:
            t = np.asarray(r["t"], float)
            ax1.semilogy(t, np.asarray(r["rate"], float) / (2 * float(r["alpha_star"])),
                         color=c, lw=0.7)
    lo = min(2 * float(r["alpha_star"]) for r in runs)
    hi = max(float(r["rate_min"]) for r in runs)
    ax0.loglog([lo, hi], [lo, hi], "k--", lw=0.8, label="rate = $2\\alpha^*$")
    ax0.set_xlabel(r"bound $2\alpha^*$")
    ax0.set_ylabel("least measured flow rate")
    ax0.legend(fontsize=6)
    ax1.axhline(1.0, color="black", ls="--", lw=0.8)
    ax1.set_xlabel("time $t$")
    ax1.set_ylabel(r"local rate / $2\alpha^*$")
    ax1.set_title("along each flow (never below 1)")
    return fig
