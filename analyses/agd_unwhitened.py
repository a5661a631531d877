"""Unwhitened data: GD on a two-layer net turns unstable, AGD does not (seed 001, Section 4.4,
Fig. 3).

Network y_hat = Theta3 (Theta1 x(1) + Theta2 x(2)) (widths [2, 1, 1]); data x1 = (sqrt 2, 0),
x2 = (0, sqrt(2) * 0.02), y = (1, 1), so (1/n) X^T X = diag(1, 4e-4) (the paper's lambda_2);
eta = 0.1; both start at (Theta1, Theta2, Theta3) = (0, 0, 1) (the paper does not state GD's
start; we use AGD's). Layer-wise GD maps on the error: layer 1 acts by
I - (eta/n) K1, K1 = Theta3^2 X^T X, eigenvalues 1 - eta lambda_i Theta3^2 (unstable once
Theta3^2 > 2/(eta lambda_1) = 20); layer 2 by I - (eta/n) K2, K2 = (Theta_(1) X)^T (Theta_(1) X),
non-trivial eigenvalue 1 - eta ||Theta_(1) X||^2 / n. AGD's are 1 - eta lambda_i (constant) and
1 - ||Y_hat||^2 / (2n) (Y_hat after the layer-1 step).
"""

from __future__ import annotations

import numpy as np

import dlnflow as dl
from dlnflow.agd import AlignedGD, filled_loss, paper_dataset, shallow_gd_loss
from dlnflow.plot.style import PALETTE, figure
from dlnflow.rates import first_below

NAME = "agd_unwhitened"
TITLE = "Unwhitened data: GD on two layers spikes, AGD stays stable (seed 001, Fig. 3)"
CONFIG = {"eta": 0.1, "second": float(np.sqrt(2) * 0.02), "steps": 20000, "record_every": 5}
QUICK = {"eta": 0.1, "second": float(np.sqrt(2) * 0.02), "steps": 2500, "record_every": 1}


def compute(config: dict) -> dict:
    eta, steps, every = float(config["eta"]), int(config["steps"]), int(config["record_every"])
    X, Y = paper_dataset(float(config["second"]))
    n = X.shape[1]
    lam = np.linalg.eigvalsh(X.T @ X / n)[::-1]                    # (lambda_1, lambda_2)
    prob = dl.Problem.regression(X, Y, widths=[2, 1, 1])
    start = dl.init.zero_first(prob)
    run = {"stop": dl.Stop(max_steps=steps), "save": dl.SaveAt(every=every)}
    gd = dl.simulate(dl.GradientDescent(prob, eta), start, **run)
    agd = dl.simulate(AlignedGD(prob, eta), start, **run)
    it = np.arange(gd.loss.shape[1]) * every
    lg, la = filled_loss(gd)[0], filled_loss(agd)[0]
    ls = shallow_gd_loss(X, Y, eta, steps)[it]
    W1, th3 = gd.params[0][0, :, 0, :], gd.params[1][0, :, 0, 0]
    gd_layer1 = np.max(np.abs(1 - eta * lam[None, :] * th3[:, None] ** 2), axis=1)
    gd_layer2 = np.abs(1 - eta * np.sum((W1 @ X) ** 2, axis=1) / n)
    aW1, ath3 = agd.params[0][0, :, 0, :], agd.params[1][0, :, 0, 0]
    E = Y[0] - ath3[:, None] * (aW1 @ X)
    A = np.eye(n) - eta / n * X.T @ X
    Yhalf = Y[0] - E @ A.T
    agd_layer1 = np.full(it.shape, np.max(np.abs(1 - eta * lam)))
    agd_layer2 = np.abs(1 - np.sum(Yhalf**2, axis=1) / (2 * n))
    cross = first_below(-th3**2, -2 / (eta * lam[0]))               # Theta3^2 >= 20
    phase1 = first_below(np.abs(E[:, 0]), 1e-3)
    rises_gd = int(np.sum(np.diff(lg) > 1e-15))
    rises_agd = int(np.sum(np.diff(la) > 1e-15))
    agreement = (
        f"Agrees: GD's Theta3 passes sqrt(2/(eta lambda_1)) = {np.sqrt(2 / (eta * lam[0])):.3f}"
        f" at recorded iteration {None if cross is None else int(it[cross])} (max Theta3 "
        f"{th3.max():.3f}); after that GD's layer-1 spectral radius exceeds 1 (max "
        f"{gd_layer1.max():.3f}) and its loss rises at {rises_gd} recorded iterations "
        f"(spikes), while AGD's radii stay <= 1 (max {max(agd_layer1.max(), agd_layer2.max()):.4f})"
        f", its loss never rises ({rises_agd}) and ends at {la[-1]:.3g} (GD {lg[-1]:.3g}, "
        f"shallow GD {ls[-1]:.3g}). The first phase (y1 learnt) ends by iteration "
        f"~{None if phase1 is None else int(it[phase1])} for AGD (paper: by 40). "
        "Differs: the paper "
        "does not state GD's start or horizon; we use the AGD start (0, 0, 1).")
    return {"iterations": it, "loss_gd": lg, "loss_agd": la, "loss_shallow_gd": ls,
            "theta3_gd": th3, "theta3_agd": ath3, "gd_layer1_radius": gd_layer1,
            "gd_layer2_radius": gd_layer2, "agd_layer1_radius": agd_layer1,
            "agd_layer2_radius": agd_layer2, "lambdas": lam, "settings": dict(config),
            "status": {"gd": str(gd.status[0]), "agd": str(agd.status[0])}, "agreement": agreement}


def render(data: dict, config: dict):
    fig, axes = figure(columns=2, aspect=0.3, ncols=3)
    it = np.asarray(data["iterations"])
    ax = axes[0]
    for key, label, c, ls in [("loss_gd", "GD, 2 layers", "k", "-"),
                              ("loss_agd", "AGD, 2 layers", PALETTE[2], ":"),
                              ("loss_shallow_gd", "GD, 1 layer", PALETTE[0], "--")]:
        ax.semilogy(it, np.maximum(np.asarray(data[key], float), 1e-30), ls, color=c, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.legend(fontsize="x-small")
    for ax, layer in zip(axes[1:], (1, 2), strict=True):
        ax.plot(it, np.asarray(data[f"gd_layer{layer}_radius"], float), "-", color="k",
                label="GD")
        ax.plot(it, np.asarray(data[f"agd_layer{layer}_radius"], float), ":",
                color=PALETTE[2], label="AGD")
        ax.axhline(1.0, color="0.6", lw=0.6)
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"spectral radius, layer {layer}")
        ax.legend(fontsize="x-small")
    return fig


def agreement(data: dict) -> list[dict]:
    """Paper (seed 001, Fig. 3): on unwhitened data two-layer GD spikes (a layer's spectral
    radius passes 1, the loss rises) while AGD stays stable (radii <= 1, monotone loss)."""
    gd_rises = int(np.sum(np.diff(np.asarray(data["loss_gd"], float)) > 0))
    agd_rises = int(np.sum(np.diff(np.asarray(data["loss_agd"], float)) > 0))
    gd_r = float(np.max(data["gd_layer1_radius"]))
    agd_r = float(max(np.max(data["agd_layer1_radius"]), np.max(data["agd_layer2_radius"])))
    return [
        {"quantity": "GD: largest layer-1 spectral radius; recorded loss rises",
         "paper": "> 1; spikes", "ours": f"{gd_r:.4f}; {gd_rises}",
         "agreement": "agrees" if gd_r > 1 and gd_rises > 0 else "differs"},
        {"quantity": "AGD: largest spectral radius; recorded loss rises",
         "paper": "<= 1; none", "ours": f"{agd_r:.4f}; {agd_rises}",
         "agreement": "agrees" if agd_r <= 1 + 1e-12 and agd_rises == 0 else "differs"},
    ]
