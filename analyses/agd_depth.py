"""Effect of depth on AGD (seed 001, Section 4.2, Fig. 1 second from right): depths 2, 4, 8 at
eta = 0.1 on x1 = (sqrt 2, 0), x2 = (0, sqrt(2 * 0.01)), y = (1, 1), against shallow GD."""

from __future__ import annotations

import numpy as np

from dlnflow.agd import agd_run, filled_loss, paper_dataset, shallow_gd_loss
from dlnflow.plot.style import PALETTE, figure
from dlnflow.rates import first_below

NAME = "agd_depth"
TITLE = "AGD at depths 2, 4, 8 vs shallow GD, eta = 0.1 (seed 001, Fig. 1)"
CONFIG = {"eta": 0.1, "depths": [2, 4, 8], "steps": 1500, "threshold": 1e-6}
QUICK = {"eta": 0.1, "depths": [2, 4, 8], "steps": 250, "threshold": 1e-3}


def compute(config: dict) -> dict:
    X, Y = paper_dataset()
    eta, steps, thr = float(config["eta"]), int(config["steps"]), float(config["threshold"])
    gd = shallow_gd_loss(X, Y, eta, steps)
    runs = []
    for L in config["depths"]:
        la = filled_loss(agd_run(X, Y, eta, int(L), steps))[0]
        runs.append({"depth": int(L), "loss_agd": la, "iterations": first_below(la, thr),
                     "agd_below_gd_everywhere": bool(np.all(la <= gd * (1 + 1e-12) + 1e-15))})
    its = [r["iterations"] for r in runs]
    gains = ([its[i] - its[i + 1] for i in range(len(its) - 1)]
             if all(i is not None for i in its) else None)
    agreement = (
        f"Agrees: every depth is below shallow GD at every iteration "
        f"({[r['agd_below_gd_everywhere'] for r in runs]}); iterations to {thr:g}: "
        + ", ".join(f"L={r['depth']}: {r['iterations']}" for r in runs)
        + f", GD: {first_below(gd, thr)}. Deeper is faster here, and the gain from doubling "
        f"depth shrinks ({gains}), the paper's 'advantage of depth diminishes'. "
        "Differs: the paper reports curves only; counts are ours.")
    return {"iterations": np.arange(steps + 1), "loss_gd": gd, "runs": runs,
            "settings": dict(config), "agreement": agreement}


def render(data: dict, config: dict):
    fig, ax = figure(columns=1)
    it = np.asarray(data["iterations"])
    ax.semilogy(it, np.maximum(np.asarray(data["loss_gd"], float), 1e-30), ":", color="k",
                label="shallow GD")
    for i, r in enumerate(data["runs"]):
        ax.semilogy(it, np.maximum(np.asarray(r["loss_agd"], float), 1e-30), "-",
                    color=PALETTE[i % len(PALETTE)], label=f"AGD, L={r['depth']}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small")
    return fig


def agreement(data: dict) -> list[dict]:
    """Paper (seed 001, Fig. 1) against ours: AGD below shallow GD at every iteration for each
    depth, and the gain from doubling the depth shrinking ("the advantage of depth
    diminishes"); the paper shows curves only, so the iteration counts are ours alone."""
    runs = data["runs"]
    rows = [{"quantity": f"AGD (L={r['depth']}) loss <= shallow GD's at every iteration",
             "paper": "yes (Fig. 1)", "ours": bool(r["agd_below_gd_everywhere"]),
             "agreement": "agrees" if r["agd_below_gd_everywhere"] else "differs"} for r in runs]
    its = [r["iterations"] for r in runs]
    if all(isinstance(k, int) for k in its) and len(its) >= 3:
        gains = -np.diff(its)
        shrinks = bool(np.all(np.diff(gains) <= 0))
        rows.append({"quantity": "iterations to the threshold, L = "
                     + ", ".join(str(r["depth"]) for r in runs),
                     "paper": "advantage of depth diminishes", "ours": ", ".join(map(str, its)),
                     "agreement": "agrees" if shrinks else "differs"})
    return rows
