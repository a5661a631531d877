"""Arora, Cohen, Hu and Luo (NeurIPS 2019): depth sharpens the low-rank bias of matrix completion.

Their setting (github roosephu/deep_matrix_factorization: gen_gt.py, main.py): W* = U V^T with
Gaussian U, V (n x r), scaled to ||W*||_F = n; observe m entries drawn uniformly without
replacement; train W_L ... W_1 (n x n layers) on the observed entries from a Gaussian start
whose product has ||W(0)||_F = init_scale sqrt(n) (init_scale 1e-3: "average magnitude of
entries"), until the mean squared training error is below 1e-6; they used an adaptive optimiser
(GroupRMSprop) for speed and report that plain GD with small steps behaves the same. Here: GD,
eta = eta_factor / (L s_1^(2 - 2/L)) (a fraction of 2 / sharpness at a balanced minimum), loss
f = 1/2 sum_Omega (W_ij - W*_ij)^2 (stop at f = m/2 * 1e-6, their threshold), n and the step
budget scaled down. Measured: recovery error ||W - W*||_F / ||W*||_F against m per depth (depth
1 = plain GD: the unobserved entries never move from the start), and the singular values of W
(depths >= 2; plateaus: loss-rate runs above 1e-3 of the initial loss, final convergence excluded)
over time t = k eta at one m: incremental learning, learning times t_i (sigma_i reaches half of
its final value), their ratios t_(i+1)/t_i, and transition widths ln(t_90%/t_10%) (the time
sigma_i takes from 10% to 90% of its final value, in log time: smaller = sharper).
Minimum nuclear norm completion (their baseline, via cvxpy) is left out: cvxpy is a heavy
dependency for one reference curve.
"""

from __future__ import annotations

import numpy as np

from ._plateaus import detect_plateaus

NAME = "deep_matrix_completion"
TITLE = "Deep matrix completion: recovery error vs observations per depth; incremental learning"
CONFIG = {"n": 40, "rank": 3, "seed": 0, "counts": [350, 450, 600, 800, 1000],
          "depths": [1, 2, 3, 4], "init_scale": 1e-3, "eta_factor": 0.5, "train_thres": 1e-6,
          "max_steps": 20000, "spectrum_count": 800, "every": 20, "rate_tol": 0.05,
          "min_samples": 5}
QUICK = {**CONFIG, "n": 16, "rank": 2, "counts": [100, 160], "depths": [1, 2, 3],
         "max_steps": 6000, "spectrum_count": 160, "every": 10}


def ground_truth(n: int, rank: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """W* = U V^T scaled to ||W*||_F = n (their gen_gt.py), and a random order of the n^2
    entries (the first m are observed: nested observation sets)."""
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((n, rank)), rng.standard_normal((n, rank))
    W = U @ V.T
    return W * (n / np.linalg.norm(W)), rng.permutation(n * n)


def mask_of(order: np.ndarray, m: int, n: int) -> np.ndarray:
    mask = np.zeros(n * n)
    mask[order[:m]] = 1.0
    return mask.reshape(n, n)


def step_size(s1: float, depth: int, factor: float) -> float:
    """eta = factor / (L s_1^(2 - 2/L)): L s_1^(2-2/L) is the sharpness at the balanced
    minimum of the full square loss (a completion minimum has sharpness at most that)."""
    return float(factor) / (depth * s1 ** (2.0 - 2.0 / depth))


def run(W_star: np.ndarray, mask: np.ndarray, depth: int, config: dict,
        track: bool = False) -> dict:
    import dlnflow as dl

    n = W_star.shape[0]
    prob = dl.Problem.completion(W_star, mask, depth=depth, width=n)
    p0 = dl.init.by_name("gaussian", prob, int(config["seed"]),
                         end_to_end=float(config["init_scale"]) * np.sqrt(n))
    s1 = float(np.linalg.svd(W_star, compute_uv=False)[0])
    eta = step_size(s1, depth, float(config["eta_factor"]))
    m = int(mask.sum())
    every = int(config["every"])
    kw = {"track": dl.Track(("singular_values",), every=every)} if track else {}
    tr = dl.simulate(dl.GradientDescent(prob, eta), p0,
                     stop=dl.Stop(loss=0.5 * m * float(config["train_thres"]),
                                  max_steps=int(config["max_steps"])),
                     save=dl.SaveAt(every=every), **kw)
    W = np.asarray(prob.end_to_end(tuple(P[0] for P in tr.params_final)))
    out = {"depth": int(depth), "count": m, "eta": eta, "status": str(tr.status[0]),
           "steps": int(tr.steps[0]), "loss_final": float(tr.loss_final[0]),
           "recovery_error": float(np.linalg.norm(W - W_star) / np.linalg.norm(W_star))}
    if track:
        v = np.asarray(tr.valid[0], bool)
        t = np.asarray(tr.t[0])[v]
        loss = np.asarray(tr.loss[0])[v]
        rate = (-np.gradient(np.log(np.maximum(loss, 1e-300)), t) if t.size > 2
                else np.full(t.size, np.inf))
        tk = tr.tracked["singular_values"].run(0)
        ts = np.asarray(tk.times[0], float)
        sv = np.asarray(tk.values[0], float)
        final = sv[-1]
        r = int(config["rank"])

        def first(i: int, frac: float) -> float:
            return float(ts[np.argmax(sv[:, i] >= frac * final[i])])

        learn = [first(i, 0.5) for i in range(r)]
        width = [float(np.log(first(i, 0.9) / first(i, 0.1))) if first(i, 0.1) > 0 else None
                 for i in range(r)]
        out.update({"t": t, "loss": loss, "sv_t": ts, "sv": sv[:, :2 * int(config["rank"])],
                    "learning_times": learn, "transition_widths": width,
                    "learning_ratios": [b / a for a, b in zip(learn[:-1], learn[1:],
                                                              strict=True)],
                    "plateaus": [p for p in detect_plateaus(t, loss, rate,
                                                            float(config["rate_tol"]),
                                                            int(config["min_samples"]))
                                 if p["loss"] > 1e-3 * loss[0]]})
    return out


def compute(config: dict) -> dict:
    n, r = int(config["n"]), int(config["rank"])
    W_star, order = ground_truth(n, r, int(config["seed"]))
    s = np.linalg.svd(W_star, compute_uv=False)[:r]
    runs = []
    for L in config["depths"]:
        for m in config["counts"]:
            runs.append(run(W_star, mask_of(order, int(m), n), int(L), config,
                            track=int(m) == int(config["spectrum_count"]) and int(L) > 1))
    return {"config": dict(config), "target_singular_values": s, "runs": runs,
            "agreement": _agreement(runs, config)}


def _agreement(runs: list, config: dict) -> dict:
    depths = sorted({r["depth"] for r in runs})
    err = {L: {r["count"]: r["recovery_error"] for r in runs if r["depth"] == L}
           for L in depths}
    counts = sorted(config["counts"])
    deeper_better = {m: all(err[a][m] >= err[b][m] for a, b in zip(depths[1:], depths[2:],
                                                                   strict=False))
                     for m in counts}
    spec = {r["depth"]: r["learning_ratios"] for r in runs if "learning_ratios" in r}
    widths = {r["depth"]: r["transition_widths"] for r in runs if "transition_widths" in r}
    unconverged = [f"L={r['depth']} m={r['count']}" for r in runs if r["status"] != "converged"]
    text = (f"Recovery error per depth (m = {counts}): " + "; ".join(
        f"L={L}: " + ", ".join(f"{err[L][m]:.2g}" for m in counts) for L in depths)
        + ". Deeper is better at m = " + str([m for m in counts if deeper_better[m]])
        + " (paper: depth >= 2 beats depth 1 and deeper needs fewer observations). "
        + "Learning-time ratios t_(i+1)/t_i at m = " + str(config["spectrum_count"]) + ": "
        + "; ".join(f"L={L}: " + ", ".join(f"{x:.2f}" for x in v) for L, v in spec.items())
        + "; transition widths ln(t_90%/t_10%) of sigma_1..sigma_r: " + "; ".join(
            f"L={L}: " + ", ".join("-" if x is None else f"{x:.2f}" for x in v)
            for L, v in widths.items())
        + " (paper: one singular value at a time, sharper with depth). Minimum nuclear norm "
        "baseline left out (no cvxpy). "
        + (f"Not converged within the step budget: {unconverged}." if unconverged else ""))
    return {"deeper_better_at": [m for m in counts if deeper_better[m]],
            "learning_ratios": {str(k): v for k, v in spec.items()},
            "transition_widths": {str(k): v for k, v in widths.items()},
            "unconverged": unconverged, "text": text}


def render(data: dict, config: dict):
    from dlnflow.plot.spectra import singular_value_trajectories
    from dlnflow.plot.style import PALETTE, figure, paper_style

    runs = data["runs"]
    depths = sorted({r["depth"] for r in runs})
    spec = [r for r in runs if "sv" in r]
    s = np.asarray(data["target_singular_values"], float)
    with paper_style():
        fig, axes = figure(columns=2, aspect=0.3, ncols=1 + len(spec))
        ax0 = axes[0]
        for i, L in enumerate(depths):
            rr = sorted((r for r in runs if r["depth"] == L), key=lambda r: r["count"])
            ax0.semilogy([r["count"] for r in rr], [r["recovery_error"] for r in rr], "o-",
                         color=PALETTE[i % len(PALETTE)], label=f"depth {L}")
        ax0.set_xlabel("observed entries m")
        ax0.set_ylabel(r"$\|W - W^*\|_F / \|W^*\|_F$")
        ax0.set_title("recovery error")
        ax0.set_ylim(top=8.0)
        ax0.legend(frameon=False, fontsize=6, loc="upper center", ncol=len(depths),
                   columnspacing=0.8, handlelength=1.2)
        for ax, r in zip(axes[1:], spec, strict=True):
            singular_value_trajectories(ax, r["sv_t"], r["sv"], targets=s, floor=1e-4,
                                        plateaus=[(p["start"], p["end"]) for p in
                                                  r["plateaus"]])
            ax.set_ylim(1e-4, 3 * s[0])
            ax.set_title(f"depth {r['depth']}, m = {r['count']}")
            if ax is not axes[1]:
                ax.set_ylabel("")
        axes[1].legend(frameon=False, fontsize=5.5, loc="lower right", ncol=2)
    return fig


def agreement(data: dict) -> list[dict]:
    """Paper (Arora et al. 2019, Figs. 1 and 3) against ours: recovery error per depth at each
    number of observations (deeper better), and transition widths of the singular values
    (deeper sharper). The paper's n = 100 and its adaptive optimiser differ: trends only."""
    runs = data["runs"]
    depths = sorted({r["depth"] for r in runs})
    counts = sorted({r["count"] for r in runs})
    err = {(r["depth"], r["count"]): r["recovery_error"] for r in runs}
    rows = []
    for m in counts:
        e = [err[(L, m)] for L in depths]
        better = all(a >= b for a, b in zip(e[1:], e[2:], strict=False)) and e[0] > e[1]
        rows.append({"quantity": f"recovery error at m = {m}, depth "
                                 + ", ".join(map(str, depths)),
                     "paper": "decreases with depth (depth >= 2 below depth 1)",
                     "ours": ", ".join(f"{x:.2g}" for x in e),
                     "agreement": "agrees" if better else "differs"})
    widths = {int(k): v for k, v in data["agreement"]["transition_widths"].items()}
    deep = sorted(L for L in widths if L >= 2)
    if len(deep) >= 2:
        first = [widths[L][0] for L in deep]
        ok = all(a is not None and b is not None and b < a
                 for a, b in zip(first[:-1], first[1:], strict=True))
        rows.append({"quantity": "transition width ln(t90/t10) of sigma_1, depth "
                                 + ", ".join(map(str, deep)),
                     "paper": "sharper with depth (incremental learning)",
                     "ours": ", ".join("-" if x is None else f"{x:.2f}" for x in first),
                     "agreement": "agrees" if ok else "differs"})
    rows.append({"quantity": "minimum nuclear norm baseline", "paper": "via cvxpy",
                 "ours": "left out (no cvxpy)", "agreement": "not compared"})
    return rows
