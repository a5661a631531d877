"""The edge-of-stability settings shared by ``edge_of_stability`` and ``central_flow``.

Cohen, Kaur, Li, Kolter and Talwalkar (ICLR 2021; locuslab/edge-of-stability, ``synthetic.py``
and ``archs.py``): deep linear network of L square d x d layers (Xavier-normal, no bias),
data X with orthogonal columns scaled by sqrt(n) (X^T X / n = I), targets Y = X A^T with
A ~ N(0, 1) entries, loss 0.5/n sum ||W x - y||^2 (``Problem.regression``), so that
F = 0.5 ||W_L...W_1 - A||_F^2. They use L = 20, d = n = 50 (50,000 parameters); we keep the
construction at d = n = 3 (a dense Hessian per sample on two CPU cores):

* ``PROGRESSIVE``: L = 10 (90 parameters), unscaled Xavier. The flow sharpens gradually,
  78 -> 341 over t = 0..14, while the loss falls 0.47 -> 0.007, on towards a plateau at
  sigma_3(A)^2 / 2 = 0.0018 (A's singular values 1.10, 0.64, 0.06: the deep network learns the
  smallest one much later).
* ``SETTING``: L = 6 (54 parameters), Xavier scaled by 0.5: flat start (sharpness 2.0), a
  saddle escape at t ~ 2.5 that lifts the sharpness 20-fold at once to a plateau at ~40.
"""

from __future__ import annotations

import numpy as np

SETTING = {"depth": 6, "width": 3, "data_seed": 0, "init_seed": 8, "init_scale": 0.5}
PROGRESSIVE = {"depth": 10, "width": 3, "data_seed": 1, "init_seed": 9, "init_scale": 1.0}


def problem_and_start(config: dict):
    """(Problem, params0) of the setting in ``config`` (keys of SETTING; or a scalar chain from
    ``chain_start`` with ``target``)."""
    import dlnflow as dl
    from dlnflow import init

    if config.get("chain_start") is not None:           # scalar chain 0.5 (w_L...w_1 - y)^2
        prob = dl.Problem.scalar_chain(len(config["chain_start"]), float(config["target"]))
        return prob, prob.scalar_params(np.asarray(config["chain_start"], float))
    d, L = int(config["width"]), int(config["depth"])
    rng = np.random.default_rng(int(config["data_seed"]))
    X = np.linalg.qr(rng.standard_normal((d, d)))[0] * np.sqrt(d)      # (n, d), X^T X = n I
    A = rng.standard_normal((d, d))
    prob = dl.Problem.regression(X.T, A @ X.T, depth=L, width=d)
    p0 = tuple(float(config["init_scale"]) * W
               for W in init.glorot_normal(prob, int(config["init_seed"])))
    return prob, p0


def first_crossing(times: np.ndarray, values: np.ndarray, level: float) -> int | None:
    """Index of the first sample with values >= level (None if never)."""
    hit = np.flatnonzero(np.asarray(values) >= level)
    return int(hit[0]) if hit.size else None
