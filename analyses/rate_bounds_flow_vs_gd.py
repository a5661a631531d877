"""Measured loss rates of gradient flow and of gradient descent against their proven bounds.

Two-layer networks in the setting of Xu et al. (TMLR 2025, Sec. 4): W_1 (h, n), W_2 (n, h) with
N(0, 1) entries, a square target Phi = W_2 W_1 + sigma^2 eps (their X orthogonal makes
0.5 ||Y - X W||^2 our 0.5 ||W - Phi||^2: K = mu = 1, f* = 0), smaller n and h than their 10 and
500-4000. From the same start:
* flow: the local rate ||grad F||^2 / F against gamma alpha = 2 alpha (Min-Vidal-Mallada
  Theorem 1; alpha = Xu et al.'s alpha_1);
* GD with constant steps eta = fraction * eta_max (Xu et al.'s rule, papers.xu_eta_max): the
  rate per unit time -ln(F(k+1)/F(k)) / eta against -ln(rho_bar)/eta (Theorem 3.2) and the local
  -ln(rho(eta, k))/eta (Theorem 3.1); steps beyond the rule (multiples of 1/lambda_max(T(0)))
  have only the local bound;
* GD with Xu et al.'s adaptive step (eq. 19, papers.xu_adaptive_eta; d = 1.01 as in their
  experiments) from eta_0 = 0.5 eta_max(d):
  its per-step contraction against rho_bar(eta_0) (Theorem 3.2 covers the schedule), and its
  iteration count against the constant step eta_0 (their Sec. 4.2: the schedule is faster).
Runs stop when the loss has dropped by ``loss_drop`` (the flow's horizon is the time the bound
itself guarantees for that drop, ln(1/loss_drop) / (2 alpha)).
"""

from __future__ import annotations

import numpy as np

NAME = "rate_bounds_flow_vs_gd"
TITLE = "Flow and GD loss rates vs their bounds (Min-Vidal-Mallada; Xu et al.), two layers"
CONFIG = {"n": 5, "h": 100, "sigma2": [0.25, 1.0, 4.0], "seed": 0,
          "eta_fractions": [0.01, 0.1, 0.5, 0.9], "beyond": [1.0, 1.5], "loss_drop": 1e-6,
          "max_steps": 20000, "n_save": 201, "solver": "DOP853", "rtol": 1e-10, "atol": 1e-12,
          "adaptive_eta0": 0.5, "adaptive_d": 1.01}
QUICK = {**CONFIG, "n": 3, "h": 20, "sigma2": [1.0], "eta_fractions": [0.01, 0.1, 0.5, 0.9],
         "beyond": [1.0], "n_save": 101}
TIGHT = 1.25        # measured / bound below this counts as tight


def _start(rng, n: int, h: int, sigma2: float):
    W1, W2 = rng.normal(size=(h, n)), rng.normal(size=(n, h))
    return W1, W2, W2 @ W1 + sigma2 * rng.normal(size=(n, n))


def compute(config: dict) -> dict:
    import dlnflow as dl
    from dlnflow import bounds, papers, rates

    rng = np.random.default_rng(int(config["seed"]))
    n, h = int(config["n"]), int(config["h"])
    drop = float(config["loss_drop"])
    starts = []
    for s2 in config["sigma2"]:
        W1, W2, Phi = _start(rng, n, h, float(s2))
        prob = dl.Problem.target_matrix(Phi, widths=[n, h, n])
        c = bounds.xu_constants(prob, (W1, W2))
        eta_max = papers.xu_eta_max(c)
        t_end = np.log(1.0 / drop) / (2 * c.alpha1)
        flow = dl.simulate(dl.GradientFlow(prob), (W1, W2), t1=t_end,
                           solver=dl.Solver(config["solver"], rtol=config["rtol"],
                                            atol=config["atol"]),
                           save=dl.SaveAt(ts=np.linspace(0, t_end, int(config["n_save"]))[1:-1]))
        ft, fr = rates.local_rate(flow)
        ok = np.isfinite(fr[0])
        lam_max = bounds.two_layer_preconditioner_max(W1, W2)
        etas = ([("rule", float(f), float(f) * eta_max) for f in config["eta_fractions"]]
                + [("beyond", float(f), float(f) / lam_max) for f in config["beyond"]
                   if float(f) / lam_max > eta_max])
        gd = [_gd_row(dl, bounds, rates, prob, (W1, W2), c, kind, f, eta, drop * c.loss0,
                      int(config["max_steps"])) for kind, f, eta in etas]
        d = float(config["adaptive_d"])
        adaptive = _adaptive_row(bounds, papers, prob, W1, W2, c,
                                 float(config["adaptive_eta0"]) * papers.xu_eta_max(c, d=d), d,
                                 drop * c.loss0, int(config["max_steps"]))
        starts.append({
            "sigma2": float(s2), "start": [W1, W2], "target": Phi, "alpha": c.alpha1,
            "alpha2": c.alpha2, "beta1": c.beta1,
            "beta2": c.beta2, "loss0": c.loss0, "eta_max": eta_max, "lambda_max_T0": lam_max,
            "lambda_min_T0": bounds.two_layer_preconditioner_min(W1, W2),
            "flow_t": ft[0][ok], "flow_rate": fr[0][ok], "flow_status": str(flow.status[0]),
            "flow_rate_min": float(fr[0][ok].min()), "flow_bound": 2 * c.alpha1, "gd": gd,
            "adaptive": adaptive,
            "xu_curve_eta": eta_max * np.logspace(-3, np.log10(0.999), 60),
            "xu_curve_rate": [bounds.xu_rate_bound(c, e)
                              for e in eta_max * np.logspace(-3, np.log10(0.999), 60)],
        })
    return {"config": dict(config), "starts": starts, "agreement": _agreement(starts)}


def _gd_row(dl, bounds, rates, prob, p0, c, kind, fraction, eta, level, max_steps) -> dict:
    tr = dl.simulate(dl.GradientDescent(prob, eta), p0,
                     stop=dl.Stop(loss=level, max_steps=max_steps), save=dl.SaveAt(every=1))
    t, r = rates.local_rate(tr)
    ok = np.isfinite(r[0])
    k = int(tr.valid[0].sum())
    loc = bounds.xu_local(prob, (tr.params[0][0, :k], tr.params[1][0, :k]), eta)
    local = -np.log(loc.rho) / eta                   # NaN where eta K_t >= 2
    row = {"kind": kind, "fraction": fraction, "eta": eta, "status": str(tr.status[0]),
           "iterations": int(tr.steps[0]), "t": t[0][ok], "rate": r[0][ok],
           "rate_min": float(r[0][ok].min()),
           "local_bound": np.where(ok[:k], local, np.nan)[ok[:k]],
           "local_holds": bool(np.all((r[0][:k] >= local * (1 - 1e-9))[ok[:k]
                                                                       & np.isfinite(local)])),
           "bound": bounds.xu_rate_bound(c, eta) if kind == "rule" else None}
    row["ratio"] = row["rate_min"] / row["bound"] if row["bound"] else None
    both = np.isfinite(row["local_bound"])
    row["local_ratio_min"] = (float(np.min(row["rate"][both] / row["local_bound"][both]))
                              if both.any() else None)
    return row


def _adaptive_row(bounds, papers, prob, W1, W2, c, eta0, d, level, max_steps) -> dict:
    """GD with eta_t = papers.xu_adaptive_eta (numpy loop: grad_W1 = W_2^T G, grad_W2 = G W_1^T,
    G = grad f(W) = W C - B); losses and steps per iteration, and the constant-eta_0 count."""
    qc = bounds.quadratic_constants(prob)
    losses, etas = [float(qc.f(W2 @ W1))], []
    A, B = W1.copy(), W2.copy()
    while losses[-1] > level and len(etas) < max_steps:
        eta = papers.xu_adaptive_eta(prob, (A, B), len(etas), eta0, d=d)
        G = B @ A @ qc.C - qc.B
        A, B = A - eta * B.T @ G, B - eta * G @ A.T
        etas.append(eta)
        losses.append(float(qc.f(B @ A)))
    e = np.asarray(losses)
    ratio = e[1:] / e[:-1]
    rho_bar = bounds.xu_rho_bar(c, eta0)
    A, B, k = W1.copy(), W2.copy(), 0
    while float(qc.f(B @ A)) > level and k < max_steps:       # the constant step eta_0
        G = B @ A @ qc.C - qc.B
        A, B, k = A - eta0 * B.T @ G, B - eta0 * G @ A.T, k + 1
    return {"eta0": eta0, "d": d, "etas": etas, "losses": losses, "iterations": len(etas),
            "iterations_constant": k, "rho_bar": rho_bar,
            "contraction_max": float(ratio.max()), "holds": bool(np.all(ratio <= rho_bar))}


def _agreement(starts: list) -> dict:
    flow = [s["flow_rate_min"] / s["flow_bound"] for s in starts]
    rule = [(g["fraction"], g["ratio"]) for s in starts for g in s["gd"] if g["kind"] == "rule"]
    holds = (all(r >= 1 - 1e-8 for r in flow) and all(r >= 1 - 1e-8 for _, r in rule)
             and all(g["local_holds"] for s in starts for g in s["gd"])
             and all(s["adaptive"]["holds"] for s in starts))
    by_f: dict = {}
    for f, r in rule:
        by_f.setdefault(f, []).append(r)
    tight = {f"{f:g} eta_max": ("tight" if max(v) < TIGHT else "loose") for f, v in by_f.items()}
    local: dict = {}
    for s in starts:
        for g in s["gd"]:
            if g["local_ratio_min"] is not None:
                key = f"{g['fraction']:g} " + ("eta_max" if g["kind"] == "rule"
                                               else "/lambda_max(T0)")
                local.setdefault(key, []).append(g["local_ratio_min"])
    return {
        "holds": bool(holds),
        "flow_ratio": {"min": min(flow), "max": max(flow),
                       "verdict": "tight" if max(flow) < TIGHT else "loose"},
        "gd_ratio_by_fraction": {f"{f:g}": {"min": min(v), "max": max(v)}
                                 for f, v in by_f.items()},
        "gd_verdict_by_fraction": tight,
        "gd_local_ratio": {k: {"min": min(v), "max": max(v),
                               "verdict": "tight" if max(v) < TIGHT else "loose"}
                           for k, v in local.items()},
        "adaptive_vs_constant_iterations": [[s["adaptive"]["iterations"],
                                             s["adaptive"]["iterations_constant"]]
                                            for s in starts],
        "paper": ("Xu et al. (Sec. 4.1, Fig. 1): the Theorem 3.2 bound 'follows the actual loss "
                  "well' (n = m = 10, h >= 500, adaptive steps). Here (constant steps, smaller n, "
                  "h): every measured rate is above its bound; the flow's within the flow_ratio "
                  "range of 2 alpha; GD's measured/bound ratio is near the flow's for small "
                  "eta and grows as eta approaches eta_max, where mu_bar -> 0 makes rho_bar -> 1 "
                  "(gd_ratio_by_fraction). The local Theorem 3.1 bound, evaluated on the iterates, "
                  "is tighter and also covers steps beyond the rule (gd_local_ratio). Their Sec. "
                  "4.2: the adaptive schedule (eq. 19) needs fewer iterations than a constant "
                  "step; measured pairs (adaptive, constant eta_0) in "
                  "adaptive_vs_constant_iterations, with every adaptive step contracting the loss "
                  "by at most rho_bar(eta_0)."),
    }


def render(data: dict, config: dict):
    from dlnflow.plot import style

    fig, (ax0, ax1) = style.figure(columns=2, aspect=0.42, nrows=1, ncols=2)
    s0 = data["starts"][0]
    ax0.plot(np.asarray(s0["flow_t"], float), np.asarray(s0["flow_rate"], float), color="black",
             lw=1.0, label="flow", zorder=3)
    ax0.axhline(float(s0["flow_bound"]), color="black", ls=":", lw=0.9,
                label=r"flow bound $2\alpha$")
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    for j, g in enumerate(s0["gd"]):
        c = cmap(0.9 * j / max(len(s0["gd"]) - 1, 1))     # step sizes: viridis; starts: palette
        lab = (rf"GD $\eta={g['fraction']:g}\,\eta_{{\mathrm{{max}}}}$" if g["kind"] == "rule"
               else rf"GD $\eta={g['fraction']:g}/\lambda_{{\mathrm{{max}}}}(T_0)$")
        ax0.plot(np.asarray(g["t"], float), np.asarray(g["rate"], float), ".", ms=1.5, color=c,
                 label=lab)
        ax0.plot(np.asarray(g["t"], float), np.asarray(g["local_bound"], float), "-", lw=0.6,
                 color=c)
        if g["bound"] is not None:
            ax0.axhline(float(g["bound"]), color=c, ls="--", lw=0.8)
    ax0.set_yscale("log")
    ax0.set_xlabel(style.TIME_LABEL)
    ax0.set_ylabel(r"loss rate $-\mathrm{d}\ln F/\mathrm{d}t$")
    ax0.set_title(rf"one start ($\sigma^2={s0['sigma2']:g}$); GD bounds: Thm 3.2 dashed, "
                  "Thm 3.1 thin", fontsize=7)
    handles, labels = ax0.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=6, frameon=False,
               markerscale=3)
    for j, s in enumerate(data["starts"]):
        c = style.PALETTE[j % len(style.PALETTE)]
        ax1.plot(np.asarray(s["xu_curve_eta"], float), np.asarray(s["xu_curve_rate"], float),
                 color=c, lw=0.9, label=rf"$\sigma^2={s['sigma2']:g}$: Xu bound")
        rule = [g for g in s["gd"] if g["kind"] == "rule"]
        beyond = [g for g in s["gd"] if g["kind"] != "rule"]
        ax1.plot([g["eta"] for g in rule], [g["rate_min"] for g in rule], "o", color=c, ms=3)
        ax1.plot([g["eta"] for g in beyond], [g["rate_min"] for g in beyond], "o", color=c,
                 mfc="none", ms=3)
        ax1.axhline(float(s["flow_rate_min"]), color=c, lw=0.6)
        ax1.axhline(float(s["flow_bound"]), color=c, ls=":", lw=0.8)
        ax1.axvline(float(s["eta_max"]), color=c, ls="--", lw=0.5)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel(r"step size $\eta$ (dashed: $\eta_{\mathrm{max}}$)")
    ax1.set_ylabel("least measured rate (markers)")
    ax1.set_title(r"GD: filled within the rule, open beyond; flow: solid, bound dotted",
                  fontsize=7)
    ax1.legend(fontsize=5, loc="lower left")
    return fig


def agreement(data: dict) -> list[dict]:
    """Measured rate over its proven bound (>= 1; tight below ``TIGHT``): the flow against
    2 alpha (Min-Vidal-Mallada Theorem 1), GD at each step of Xu et al.'s rule against
    Theorem 3.2 and, on its iterates, the local Theorem 3.1 (also beyond the rule); the adaptive
    step (eq. 19) against a constant eta_0 (their Sec. 4.2: fewer iterations)."""
    starts = data["starts"]

    def row(quantity: str, ratios: list[float]) -> dict:
        least = min(ratios)
        verdict = "holds" if least >= 1 - 1e-8 else "violated"
        return {"quantity": f"{quantity}: measured / bound", "paper": ">= 1", "ours": least,
                "agreement": f"{verdict}, {'tight' if max(ratios) < TIGHT else 'loose'}"}

    rows = [row("flow rate vs 2 alpha", [s["flow_rate_min"] / s["flow_bound"] for s in starts])]
    runs = [g for s in starts for g in s["gd"]]
    for f in sorted({g["fraction"] for g in runs if g["kind"] == "rule"}):
        sel = [g for g in runs if g["kind"] == "rule" and g["fraction"] == f]
        rows.append(row(f"GD at eta = {f:g} eta_max, Theorem 3.2", [g["ratio"] for g in sel]))
    for g in runs:
        if g["local_ratio_min"] is not None:
            where = (f"{g['fraction']:g} eta_max" if g["kind"] == "rule"
                     else f"{g['fraction']:g}/lambda_max(T0)")
            rows.append(row(f"GD at eta = {where}, local Theorem 3.1", [g["local_ratio_min"]]))
    for s in starts:
        a = s["adaptive"]
        rows.append({"quantity": "adaptive step (eq. 19) iterations; constant eta_0 in paper "
                     "column", "paper": int(a["iterations_constant"]),
                     "ours": int(a["iterations"]),
                     "agreement": "fewer, as in Sec. 4.2" if a["iterations"]
                     < a["iterations_constant"] else "not fewer"})
        rows.append({"quantity": "adaptive step: largest per-step contraction vs rho_bar(eta_0)",
                     "paper": float(a["rho_bar"]), "ours": float(a["contraction_max"]),
                     "agreement": "within" if a["contraction_max"] <= a["rho_bar"]
                     else "exceeds"})
    return rows
