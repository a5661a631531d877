"""GD converges to flatter minima than gradient flow: two-layer network, one input, one output.

Beneventano and Woodworth, "Gradient descent converges linearly to flatter minima than gradient
flow in shallow linear networks" (2025): F(a, b) = 0.5 (a^T b - Phi)^2, a, b in R^d (here
W_1 = b, W_2 = a^T). With residual eps_k = a_k^T b_k - Phi, one GD step scales the imbalance
a a^T - b b^T by exactly (1 - eta^2 eps_k^2) (gradient flow conserves it), and at a minimum the
Hessian is g g^T, g = (b, a), so the sharpness of a minimum is ||a||^2 + ||b||^2 =
sqrt(4 Phi^2 + Q^2) with Q = mu_+ - mu_- the gap of the imbalance's two eigenvalues. Hence

    flow limit:  lambda_GF = sqrt(4 Phi^2 + Q_0^2)
    GD limit:    lambda_GD = sqrt(4 Phi^2 + Q_0^2 prod_k (1 - eta^2 eps_k^2)^2)  <  lambda_GF,

and a limit GD can stay at has lambda_GD <= 2/eta (>= 2|Phi|, the flattest minimum): larger
steps regularise more, down to eta -> 1/|Phi|, where convergence becomes slow (the trade-off of
speed against implicit regularisation). Measured per eta: the sharpness of GD's limit (top
Hessian eigenvalue, dlnflow.sharpness), the formula from GD's own residuals, the iterations to
F <= stop_at_loss.
"""

from __future__ import annotations

import numpy as np

NAME = "gd_flatter_minima"
TITLE = ("Two-layer scalar network: GD's limit is flatter than the flow's; "
         "larger eta: flatter, slower")
CONFIG = {"width": 5, "target": 1.0, "seed": 0, "scale_a": 2.0, "scale_b": 0.2,
          "etas": [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
          "stop_at_loss": 1e-20, "max_steps": 200_000}
QUICK = {**CONFIG, "etas": [0.05, 0.3, 0.6, 0.8, 0.95], "max_steps": 50_000}


def start(config: dict) -> tuple[np.ndarray, np.ndarray]:
    """(a, b): a ~ N(0, scale_a^2 I), b ~ N(0, scale_b^2 I) (an imbalanced start)."""
    rng = np.random.default_rng(int(config["seed"]))
    d = int(config["width"])
    return (float(config["scale_a"]) * rng.standard_normal(d),
            float(config["scale_b"]) * rng.standard_normal(d))


def imbalance_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Q = mu_+ - mu_- of a a^T - b b^T: sqrt((|a|^2 + |b|^2)^2 - 4 (a.b)^2)."""
    s = float(a @ a + b @ b)
    return float(np.sqrt(max(s * s - 4.0 * float(a @ b) ** 2, 0.0)))


def compute(config: dict) -> dict:
    import dlnflow as dl
    from dlnflow.sharpness import sharpness

    phi = float(config["target"])
    d = int(config["width"])
    prob = dl.Problem.target_matrix(np.array([[phi]]), widths=(1, d, 1))
    a, b = start(config)
    p0 = (b[:, None], a[None, :])
    q0 = imbalance_gap(a, b)
    flow = dl.simulate(dl.GradientFlow(prob), p0, t1=1e3,
                       solver=dl.Solver("DOP853", rtol=1e-12, atol=1e-14),
                       stop=dl.Stop(loss=float(config["stop_at_loss"]) * 1e2))
    lam_flow = float(sharpness(prob, flow.params_final)[0])
    rows = []
    for eta in config["etas"]:
        eta = float(eta)
        gd = dl.simulate(dl.GradientDescent(prob, eta), p0, save=dl.SaveAt(every=1),
                         stop=dl.Stop(loss=float(config["stop_at_loss"]),
                                      max_steps=int(config["max_steps"])))
        conv = str(gd.status[0]) == "converged"
        loss = np.asarray(gd.loss[0], float)[np.asarray(gd.valid[0], bool)]
        eps2 = 2.0 * loss[:-1]                                  # eps_k^2 = 2 F_k, k < K
        shrink = float(np.prod(1.0 - eta**2 * eps2))
        rows.append({
            "eta": eta, "status": str(gd.status[0]), "iterations": int(gd.steps[0]),
            "sharpness": float(sharpness(prob, gd.params_final)[0]) if conv else float("nan"),
            "formula": float(np.sqrt(4 * phi**2 + (q0 * shrink) ** 2)),
            "imbalance_shrink": shrink,
            "loss_rose_fraction": float(np.mean(np.diff(loss) > 0)),
        })
    conv = [r for r in rows if r["status"] == "converged"]
    sharp = np.array([r["sharpness"] for r in conv])
    agreement = {
        "flow_limit_closed_form": {"measured": lam_flow,
                                   "paper": float(np.sqrt(4 * phi**2 + q0**2))},
        "gd_flatter_than_flow_at_every_eta": bool(np.all(sharp < lam_flow)),
        "gd_sharpness_decreases_with_eta_up_to": _monotone_up_to(conv),
        "gd_limit_below_2_over_eta": bool(all(r["sharpness"] <= 2 / r["eta"] for r in conv)),
        "gd_limit_formula_max_rel_error": float(max(abs(r["sharpness"] / r["formula"] - 1)
                                                    for r in conv)),
        "fastest_eta": float(conv[int(np.argmin([r["iterations"] for r in conv]))]["eta"]),
        "slowest_eta": float(conv[int(np.argmax([r["iterations"] for r in conv]))]["eta"]),
        "note": "paper (abstract; we could not read its body, so its Phi, d and start are not "
                "ours: Phi = 1, d = 5, a ~ N(0, 2^2), b ~ N(0, 0.2^2)): GD converges linearly "
                "to a minimum of lower sharpness than the flow's, fast for eta up to about "
                "2/sharpness and slowly beyond. Agrees: flatter at every eta, the limit equals "
                "the imbalance formula to round-off, iterations fewest near eta = 1/lambda and "
                "growing towards eta = 1/|Phi|. Differs in detail: the limit's sharpness falls "
                "with eta only up to 'gd_sharpness_decreases_with_eta_up_to'; nearer 1/|Phi| "
                "some factors 1 - eta^2 eps_k^2 are negative (GD overshoots), the product "
                "passes through 0 and |Q| at the limit is no longer monotone in eta.",
    }
    return {"config": dict(config), "phi": phi, "imbalance_gap_0": q0,
            "flow_sharpness": lam_flow, "flow_time": float(flow.t_final[0]),
            "flattest": 2 * abs(phi), "rows": rows, "agreement": agreement}


def _monotone_up_to(rows: list[dict]) -> float:
    """The largest eta up to which the limit's sharpness decreases with eta."""
    k = 0
    while k + 1 < len(rows) and rows[k + 1]["sharpness"] <= rows[k]["sharpness"]:
        k += 1
    return float(rows[k]["eta"])


def render(data: dict, config: dict):
    from dlnflow.plot import style

    rows = [r for r in data["rows"] if r["status"] == "converged"]
    eta = np.array([float(r["eta"]) for r in rows])
    fig, (ax0, ax1) = style.figure(columns=2, aspect=0.4, nrows=1, ncols=2)
    ax0.axhline(float(data["flow_sharpness"]), color="gray", ls="--", lw=0.8,
                label="gradient flow limit (same start)")
    ax0.axhline(float(data["flattest"]), color="gray", ls=":", lw=0.8,
                label=r"flattest minimum $2|\Phi|$")
    grid = np.linspace(eta.min(), eta.max(), 200)
    ax0.plot(grid, 2 / grid, color="black", lw=0.6, label=r"$2/\eta$")
    ax0.plot(eta, [float(r["sharpness"]) for r in rows], "o", label="GD limit (measured)")
    ax0.plot(eta, [float(r["formula"]) for r in rows], "x", color="C3", ms=7,
             label=r"$\sqrt{4\Phi^2 + Q_0^2\prod_k(1-\eta^2\epsilon_k^2)^2}$")
    ax0.set_ylim(0, 1.15 * float(data["flow_sharpness"]))
    ax0.set_xlabel(r"step size $\eta$")
    ax0.set_ylabel("sharpness of the limit")
    ax0.axvline(2 / float(data["flow_sharpness"]), color="gray", ls="-.", lw=0.6,
                label=r"$\eta = 2/\lambda_{GF}$")
    ax0.legend(fontsize=6, loc="lower left")
    ax1.semilogy(eta, [int(r["iterations"]) for r in rows], "s-", color="C1")
    ax1.set_xlabel(r"step size $\eta$")
    ax1.set_ylabel(r"GD iterations to $F \leq$ " + f"{float(config['stop_at_loss']):g}")
    ax1.set_title("speed vs implicit regularisation", fontsize=8)
    return fig


def agreement(data: dict) -> list[dict]:
    """Beneventano-Woodworth: the flow's limit has sharpness sqrt(4 Phi^2 + Q_0^2); GD's limit
    has sqrt(4 Phi^2 + Q_0^2 prod_k (1 - eta^2 eps_k^2)^2) (the paper's column: that formula from
    GD's own residuals), below the flow's and below 2/eta."""
    phi, q0 = float(data["phi"]), float(data["imbalance_gap_0"])
    flow_closed = float(np.sqrt(4 * phi**2 + q0**2))
    lam_flow = float(data["flow_sharpness"])
    rows = [{"quantity": "flow limit sharpness", "paper": flow_closed, "ours": lam_flow,
             "agreement": f"rel. diff {abs(lam_flow / flow_closed - 1):.1e}"}]
    for r in data["rows"]:
        eta = float(r["eta"])
        if r["status"] != "converged":
            rows.append({"quantity": f"GD limit sharpness, eta = {eta:g}",
                         "paper": float(r["formula"]), "ours": str(r["status"]),
                         "agreement": "did not converge"})
            continue
        lam = float(r["sharpness"])
        rel = abs(lam / float(r["formula"]) - 1)
        flatter = "flatter than the flow" if lam < lam_flow else "not flatter than the flow"
        below = "<= 2/eta" if lam <= 2 / eta else "> 2/eta"
        rows.append({"quantity": f"GD limit sharpness, eta = {eta:g} ({r['iterations']} "
                     "iterations)", "paper": float(r["formula"]), "ours": lam,
                     "agreement": f"rel. diff {rel:.1e}; {flatter}, {below}"})
    return rows
