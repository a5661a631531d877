"""The convergence-rate table of seed 000, measured: GD iterations to a threshold against depth.

Each row runs gradient descent under its paper's start and step-size rule and fits a growth law
(exponential / polynomial with degree / flat, dlnflow.fitting) to the median iteration count over
seeds at depths L (excess loss F - F* <= ``threshold``; capped runs are censored and counted).

* Arora, Cohen, Golowich, Hu (ICLR 2019): balanced start with product W0, ||W0 - Phi||_F =
  sigma_min(Phi) - c (deficiency margin c); target loss 0.5 ||W - Phi||_F^2; step
  eta = c^((4L-2)/L) / (6144 L^3 ||Phi||_F^((6L-4)/L)) (their Theorem 1) times one common
  factor (the paper's constant makes L = 16 need ~1e10 iterations); proved O(L^3 log 1/eps).
* Bartlett, Helmbold, Long (ICML 2018): identity start, symmetric positive definite Phi,
  eta = 1/(2 L max(1, ||Phi||_2)^2) (an O(1/L) step); proved O(L log 1/eps). The identity start
  is deterministic, so the row's runs are ``bartlett_targets`` targets: the table's Phi and
  random ones (eigenvalues uniform in ``bartlett_eig_range``, random eigenbases). From W_l = I
  each eigenvalue follows s <- s - eta s^(L-1)(s^L - lambda), s(0) = 1 (the test checks the
  counts against this scalar recursion).
  Failure case: symmetric Phi with an eigenvalue lambda < 0. From W_l = I every W_l stays a
  polynomial in Phi, so in Phi's eigenbasis each eigenvalue follows s <- s - eta s^(L-1)(s^L -
  lambda) with s(0) = 1; for lambda < 0 s decreases to 0 (and stays positive for small eta), so
  that eigen-direction of the product goes to 0 and the loss tends to 0.5 lambda^2. For L = 2
  that point is a strict saddle and rounding errors (asymmetric modes growing like
  (1 + eta |lambda|)^k) let GD escape after ~ln(1e16)/(eta |lambda|) iterations, so the failure
  is only transient there; for L >= 3 the saddle is non-strict and the stall persists.
* Shamir (COLT 2019): scalar chain, w_i ~ N(0, 1), y = 1, fixed eta; proved exp(Omega(L)).
* Du and Hu (ICML 2019): regression, every entry N(0, 1), output scaled by 1/sqrt(m^(L-1) d_y),
  their loss 0.5 ||.||_F^2 (no 1/n) with eta = d_y / (2 L ||X||_2^2), i.e. n d_y / (2 L ||X||^2)
  for our 0.5/n loss; proved O(kappa log 1/eps) for width m = Omega~(L r d_y kappa^3).
* Zou, Long, Gu (ICLR 2020): residual B (I + W_L) ... (I + W_1) A, A ~ N(0, 1/m), B ~ N(0, 1/d_y)
  fixed, W_l = 0 at the start; eta = 1 / (L ||A||^2 ||B||^2 ||X||^2) (their loss, no 1/n; an
  O(1/L) step, constant ours); proved O(kappa log 1/eps).
* Hu, Xiao, Pennington (ICLR 2020): as Du and Hu with W_l^T W_l = m I (scaled orthogonal);
  proved O(kappa log 1/eps) for width independent of depth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import dlnflow as dl
from dlnflow import fitting, sweep
from dlnflow.papers import arora_eta, bartlett_eta, du_hu_eta, du_hu_output_scale, zou_eta
from dlnflow.plot.style import PALETTE, figure

from ._rate_tables import tables  # noqa: F401  (the pipeline writes rate_table.md/.tex)

NAME = "rate_table"
TITLE = "Seed 000's convergence-rate table, measured: iterations against depth per paper"

CONFIG = {
    "depths": [2, 4, 6, 8, 12, 16],
    "threshold": 1e-3,
    "max_steps": 100_000,
    "phi_eigs": [0.8, 0.6, 0.4],
    "margin_frac": 0.5,
    "arora_eta_at_L2": 0.1,
    "arora_seeds": 8,
    "bartlett_targets": 16,
    "bartlett_eig_range": [0.2, 1.0],
    "shamir_eta": 0.05,
    "shamir_seeds": 64,
    "regression": {"d_in": 4, "d_out": 2, "n": 16},
    "width": 64,
    "wide_seeds": 4,
    "fail_eigs": [0.8, 0.6, -0.5],
    "fail_depths": [3, 4, 8],
    "fail_steps": 40_000,
    "seed": 0,
}

QUICK = {
    "depths": [2, 5, 8],
    "threshold": 1e-3,
    "max_steps": 20_000,
    "phi_eigs": [0.8, 0.6, 0.4],
    "margin_frac": 0.5,
    "arora_eta_at_L2": 0.1,
    "arora_seeds": 4,
    "bartlett_targets": 8,
    "bartlett_eig_range": [0.2, 1.0],
    "shamir_eta": 0.05,
    "shamir_seeds": 48,
    "regression": {"d_in": 4, "d_out": 2, "n": 16},
    "width": 16,
    "wide_seeds": 2,
    "fail_eigs": [0.8, 0.6, -0.5],
    "fail_depths": [2, 3, 4, 6],
    "fail_steps": 20_000,
    "seed": 0,
}

ROWS = {
    "arora": {"paper": "Arora et al. 2019", "start": "balanced, deficiency margin",
              "step": "c^(4-2/L) / (K L^3 ||Phi||^(6-4/L))", "proved": "O(L^3 log 1/eps)",
              "proved_tex": r"$O(L^3\log\frac1\epsilon)$"},
    "bartlett": {"paper": "Bartlett et al. 2018", "start": "identity, random sym. pos. def. Phi",
                 "step": "1/(2L max(1,||Phi||)^2)", "proved": "O(L log 1/eps)",
                 "proved_tex": r"$O(L\log\frac1\epsilon)$"},
    "shamir": {"paper": "Shamir 2019", "start": "scalar, N(0,1)", "step": "fixed",
               "proved": "exp(Omega(L)) log 1/eps",
               "proved_tex": r"$e^{\Omega(L)}\log\frac1\epsilon$"},
    "du_hu": {"paper": "Du and Hu 2019", "start": "wide Gaussian, 1/sqrt(m^(L-1) d_y)",
              "step": "d_y/(2L||X||^2)", "proved": "O(kappa log 1/eps)",
              "proved_tex": r"$O(\kappa\log\frac1\epsilon)$"},
    "zou": {"paper": "Zou et al. 2020", "start": "residual, zero", "step":
            "1/(L||A||^2||B||^2||X||^2)", "proved": "O(kappa log 1/eps)",
            "proved_tex": r"$O(\kappa\log\frac1\epsilon)$"},
    "orthogonal": {"paper": "Hu et al. 2020", "start": "orthogonal, 1/sqrt(m^(L-1) d_y)",
                   "step": "d_y/(2L||X||^2)", "proved": "O(kappa log 1/eps)",
                   "proved_tex": r"$O(\kappa\log\frac1\epsilon)$"},
}


def _sym(eigs: list[float], seed: int) -> np.ndarray:
    d = len(eigs)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return Q @ np.diag(eigs) @ Q.T


def _row_setups(cfg: dict) -> dict[str, Any]:
    seed = cfg["seed"]
    rng = np.random.default_rng(seed)
    phi = _sym(cfg["phi_eigs"], seed)
    smin = float(np.linalg.svd(phi, compute_uv=False).min())
    c = cfg["margin_frac"] * smin
    phi_norm = float(np.linalg.norm(phi))
    factor = cfg["arora_eta_at_L2"] / arora_eta(2, c, phi_norm)
    B = cfg["arora_seeds"]
    dirs = rng.standard_normal((B, *phi.shape))
    dirs /= np.linalg.norm(dirs, axis=(1, 2), keepdims=True)
    W0 = phi + (smin - c) * dirs                               # ||W0 - Phi||_F = smin - c
    r = cfg["regression"]
    X = rng.standard_normal((r["d_in"], r["n"]))
    Y = rng.standard_normal((r["d_out"], r["n"]))
    m, dy = cfg["width"], r["d_out"]
    A = rng.standard_normal((m, r["d_in"])) / np.sqrt(m)
    Bm = rng.standard_normal((dy, m)) / np.sqrt(dy)
    b_rng = np.random.default_rng(seed + 2)
    b_eigs = [list(cfg["phi_eigs"])] + [
        b_rng.uniform(*cfg["bartlett_eig_range"], size=len(cfg["phi_eigs"])).tolist()
        for _ in range(cfg["bartlett_targets"] - 1)]
    b_targets = [phi] + [_sym(e, seed + 2 + k) for k, e in enumerate(b_eigs[1:], 1)]
    lam = max(float(np.max(np.abs(e))) for e in b_eigs)        # ||Phi||_2 of every target

    def arora(L):
        prob = dl.Problem.target_matrix(phi, depth=L)
        return [(prob, dl.init.balanced(prob, product=W0))], factor * arora_eta(L, c, phi_norm)

    def bartlett(L):
        probs = [dl.Problem.target_matrix(t, depth=L) for t in b_targets]
        return [(p, dl.init.identity(p, batch=1)) for p in probs], bartlett_eta(L, lam)

    def shamir(L):
        prob = dl.Problem.scalar_chain(L, 1.0)
        return [(prob, dl.init.gaussian(prob, seed + L, batch=cfg["shamir_seeds"]))], \
            cfg["shamir_eta"]

    def wide(L, orth):
        prob = dl.Problem.regression(X, Y, depth=L, width=m,
                                     output_scale=du_hu_output_scale(m, L, dy))
        key = seed + 10 * L + orth
        if orth:
            p0 = dl.init.orthogonal(prob, key, batch=cfg["wide_seeds"], scale=np.sqrt(m))
        else:
            p0 = dl.init.gaussian(prob, key, batch=cfg["wide_seeds"], std=1.0)
        return [(prob, p0)], du_hu_eta(L, X, dy)

    def zou(L):
        prob = dl.Problem.residual(L, A, Bm, X=X, Y=Y)
        return [(prob, dl.init.zeros(prob, batch=cfg["wide_seeds"]))], zou_eta(L, A, Bm, X)

    setups = {"arora": arora, "bartlett": bartlett, "shamir": shamir,
              "du_hu": lambda L: wide(L, 0), "zou": zou, "orthogonal": lambda L: wide(L, 1)}
    info = {"phi": phi.tolist(), "deficiency_margin": c, "sigma_min": smin,
            "arora_factor_over_paper": factor, "X": X.tolist(), "Y": Y.tolist(),
            "A": A.tolist(), "B": Bm.tolist(), "kappa": _kappa(X), "bartlett_eigs": b_eigs}
    return {"setups": setups, "info": info}


def _kappa(X: np.ndarray) -> float:
    s = np.linalg.svd(X, compute_uv=False)
    s = s[s > 1e-12 * s[0]]
    return float((s[0] / s[-1]) ** 2)


def _failure_setup(cfg: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Bartlett's failure target: symmetric, with the eigenvalues ``fail_eigs``; its eigen
    decomposition and the predicted stalled loss 0.5 sum of lambda_-^2."""
    eigs = np.asarray(cfg["fail_eigs"], dtype=float)
    phi = _sym(list(eigs), cfg["seed"] + 1)
    w, V = np.linalg.eigh(phi)
    return phi, w, V, 0.5 * float(np.sum(w[w < 0] ** 2))


def _failure_cell(cell: dict, cfg: dict) -> dict[str, Any]:
    """One sweep cell of the failure case: GD from the identity start at depth L."""
    phi, w, V, _ = _failure_setup(cfg)
    L = cell["depth"]
    prob = dl.Problem.target_matrix(phi, depth=L)
    eta = bartlett_eta(L, float(np.max(np.abs(cfg["fail_eigs"]))))
    traj = dl.simulate(dl.GradientDescent(prob, eta), dl.init.identity(prob, batch=1),
                       stop=dl.Stop(loss=cfg["threshold"], max_steps=cfg["fail_steps"]),
                       save=dl.SaveAt(every=cfg["fail_steps"]))
    W = np.asarray(prob.end_to_end(tuple(np.asarray(P[0]) for P in traj.params_final)))
    return {"eta": eta, "loss": float(traj.loss_final[0]),
            "product_on_negative": np.asarray([float(v @ W @ v) for v in V[:, w < 0].T]),
            "status": str(traj.status[0])}


def _failure(cfg: dict, result: sweep.SweepResult) -> dict[str, Any]:
    """Bartlett's failure: identity start, symmetric target with a negative eigenvalue."""
    phi, _, _, predicted = _failure_setup(cfg)
    loss = [float(v) for v in result.column("loss")]
    return {"phi": phi.tolist(), "eigs": [float(e) for e in cfg["fail_eigs"]],
            "predicted": predicted, "depths": [c["depth"] for c in result.cells],
            "loss": loss, "rel_gap": [abs(v - predicted) / predicted for v in loss],
            "product_on_negative": [np.asarray(p).tolist()
                                    for p in result.column("product_on_negative")],
            "status": [str(s) for s in result.column("status")],
            "eta": [float(e) for e in result.column("eta")]}


def _row_cell(cell: dict, cfg: dict) -> dict[str, Any]:
    """One sweep cell: one row's GD runs at depth L under its paper's start and step (one
    batched run per problem; several problems for Bartlett's targets)."""
    groups, eta = _row_setups(cfg)["setups"][cfg["row"]](cell["depth"])
    steps, status = [], []
    for prob, p0 in groups:
        traj = dl.simulate(dl.GradientDescent(prob, eta), p0,
                           stop=dl.Stop(loss=cfg["threshold"], max_steps=cfg["max_steps"]),
                           save=dl.SaveAt(every=cfg["max_steps"]))
        steps.append(np.asarray(traj.steps, dtype=int))
        status += [str(s) for s in traj.status]
    return {"eta": eta, "steps": np.concatenate(steps), "status": np.asarray(status)}


def compute(config: dict) -> dict:
    """Iterations to the threshold against depth for every row, fitted laws, failure case.
    Every (row, depth) cell and every failure depth is one cell of a sweep; all go to the
    executor at once (local, or the Dask cluster of ``dlnflow figures --executor dask``)."""
    cfg = dict(config)
    built = _row_setups(cfg)
    specs = [sweep.SweepSpec.of(_row_cell, {"depth": cfg["depths"]}, {**cfg, "row": name})
             for name in built["setups"]]
    specs.append(sweep.SweepSpec.of(_failure_cell, {"depth": cfg["fail_depths"]}, cfg))
    *row_results, fail = sweep.run_sweeps(specs, desc=NAME)
    rows: dict[str, Any] = {}
    for name, res in zip(built["setups"], row_results, strict=True):
        per_depth, runs = [], []
        for eta, steps, status in zip(res.column("eta"), res.column("steps"),
                                      res.column("status"), strict=True):
            counts = fitting.censored_counts(steps, status)
            runs.append(counts)
            q = fitting.quantiles(counts)
            per_depth.append({"eta": float(eta), "steps": np.asarray(steps, int).tolist(),
                              "status_counts": fitting.status_counts(status),
                              "quartiles": [float(v) if np.isfinite(v) else None for v in q],
                              "censored": int(np.sum(~np.isfinite(counts)))})
        law = fitting.classify_growth(cfg["depths"], runs, seed=cfg["seed"])
        rows[name] = {**ROWS[name], "depths": list(cfg["depths"]), "per_depth": per_depth,
                      "fit": law, "law": law["law"], "summary": law["summary"]}
    return {"config": cfg, "rows": rows, "failure": _failure(cfg, fail), "setup": built["info"]}


def render(data: dict, config: dict):
    """Left: median iterations (quartile bars) against depth, one curve per paper's row. Right:
    the failure case's stalled loss against its prediction, per depth (escaped depths apart)."""
    fig, (ax, bx) = figure(columns=2, aspect=0.38, ncols=2)
    cap = data["config"]["max_steps"]
    for i, row in enumerate(data["rows"].values()):
        d = np.asarray(row["depths"], dtype=float)
        q = np.array([[cap if v is None else v for v in r["quartiles"]]
                      for r in row["per_depth"]], dtype=float)
        q = np.maximum(q, 1.0)
        ax.errorbar(d, q[:, 1], yerr=[q[:, 1] - q[:, 0], q[:, 2] - q[:, 1]], marker="o",
                    color=PALETTE[i % len(PALETTE)], capsize=2,
                    label=f"{row['paper']}: {row['summary']}")
    ax.axhline(cap, color="0.6", lw=0.6, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel("GD iterations to threshold (median, IQR)")
    ax.legend(fontsize=4.5, loc="upper left")
    f = data["failure"]
    L = np.asarray(f["depths"], dtype=float)
    stalled = np.asarray([s != "converged" for s in f["status"]])
    series = ((np.asarray(f["rel_gap"], dtype=float), "o",
               "|loss - 0.5 lambda_-^2| / (0.5 lambda_-^2)", PALETTE[1]),
              (np.abs([p[0] for p in f["product_on_negative"]]), "s",
               "|v^T W v| on the negative eigenvector", PALETTE[2]))
    for y, marker, label, color in series:
        y = np.maximum(y, 1e-17)
        # stalled depths joined; a depth where GD escaped the saddle (L = 2, strict saddle)
        # drawn apart with an open marker: it is another regime, not a point of the curve
        bx.semilogy(L[stalled], y[stalled], marker=marker, color=color, label=label)
        bx.semilogy(L[~stalled], y[~stalled], ls="none", marker=marker, color=color,
                    markerfacecolor="none")
    for x in L[~stalled]:
        bx.annotate("escaped\n(converged)", (x, 1.0), xytext=(6, -4), textcoords="offset points",
                    fontsize=5, va="top", color="0.3")
    bx.set_xticks(L)
    bx.set_xlabel("depth L")
    bx.set_title(f"Bartlett failure: stall at {f['predicted']:.4g}", fontsize=7)
    bx.legend(fontsize=5)
    return fig


# Each row's proved law in depth (its paper's theorem): a degree of L for polynomial upper
# bounds, 0 for depth-free O(kappa log 1/eps), None for Shamir's lower bound exp(Omega(L)).
PROVED_DEGREE = {"arora": 3, "bartlett": 1, "du_hu": 0, "orthogonal": 0, "zou": 0, "shamir": None}


def agreement(data: dict) -> list[dict]:
    """Per row, the fitted growth of GD's iteration count in L against the proved law (an upper
    bound holds if the degree's 95% interval does not lie above the proved degree), and the
    Bartlett failure's stalled loss against 0.5 lambda_-^2 per depth."""
    rows = []
    for key, row in data["rows"].items():
        deg, fit = PROVED_DEGREE.get(key), row["fit"]
        lo, hi = fit["polynomial"]["ci"]
        if deg is None:
            ok = fit["law"] == "exponential" and fit["exponential"]["ci"][0] > 0
            verdict = "exponential, as proved" if ok else "no exponential growth measured"
        else:
            verdict = ("within the proved law" if fit["law"] == "flat" or hi <= deg else
                       "grows faster than proved" if lo > deg else "matches the proved degree")
        rows.append({"quantity": f"{row['paper']}: iterations vs L (degree interval "
                     f"[{lo:.2f}, {hi:.2f}])", "paper": row["proved"], "ours": row["summary"],
                     "agreement": verdict})
    f = data["failure"]
    stall = 0.5 * min(float(e) for e in f["eigs"]) ** 2
    for L, loss, status in zip(f["depths"], f["loss"], f["status"], strict=True):
        gap = abs(float(loss) - stall) / stall
        rows.append({"quantity": f"Bartlett failure, L={L}: loss after {status}",
                     "paper": stall, "ours": float(loss),
                     "agreement": f"stalls (rel. gap {gap:.1e})" if gap < 1e-3 else
                     "escaped (converged; strict saddle at L = 2)" if status == "converged"
                     else f"differs ({gap:.1e})"})
    return rows
