"""Convergence-rate bounds from the theory, one family per module.

* scalar:    Min-Vidal-Mallada alpha* of scalar chains (exact minimum of lambda_min(T)).
* two_layer: Min-Vidal-Mallada two-layer matrix bound (Lemma 3, Theorem 1).
* deep:      Min-Vidal-Mallada deep bounds (Theorem 3, Corollary 2; homogeneous imbalance).
* gd:        Xu, Min, Tarmoun, Mallada, Vidal: GD rate of two-layer networks (Theorems 3.1, 3.2);
             its step-size rule is papers.xu_eta_max.
* margins:   product margins (K, mu, W*), Arora et al.'s deficiency margin, balancedness.

Gradient flow gives d/dt (F - F*) = -||grad F||^2 = -<grad f, T(grad f)>; when
||grad f||^2 >= gamma (f - f*) and lambda_min(T) >= alpha along the flow, F(t) - F* <=
exp(-gamma alpha t) (F(0) - F*) (gamma = 2 for f = 0.5 ||W - Phi||^2).
"""

from .deep import alpha_deep, cumulative_imbalances, deep_lambda_bound, is_homogeneous
from .gd import (
    XuConstants,
    XuLocal,
    xu_constants,
    xu_contraction_gap,
    xu_K_bar0,
    xu_local,
    xu_mu_bar,
    xu_rate_bound,
    xu_rho_bar,
)
from .margins import (
    ProductMargins,
    QuadraticConstants,
    balancedness,
    deficiency_margin,
    product_margins,
    quadratic_constants,
)
from .scalar import (
    alpha_star_scalar,
    alpha_star_scalar_root,
    alpha_star_two_layer_scalar,
    rate_bound_check,
    scalar_margin,
)
from .two_layer import (
    alpha_two_layer,
    imbalance_gaps,
    two_layer_lambda_bound,
    two_layer_matrix_bound,
    two_layer_preconditioner_max,
    two_layer_preconditioner_min,
)

__all__ = [
    "ProductMargins", "QuadraticConstants", "XuConstants", "XuLocal", "alpha_deep",
    "alpha_star_scalar", "alpha_star_scalar_root", "alpha_star_two_layer_scalar",
    "alpha_two_layer", "balancedness", "cumulative_imbalances", "deep_lambda_bound",
    "deficiency_margin", "imbalance_gaps", "is_homogeneous", "product_margins",
    "quadratic_constants", "rate_bound_check", "scalar_margin", "two_layer_lambda_bound",
    "two_layer_matrix_bound", "two_layer_preconditioner_max", "two_layer_preconditioner_min",
    "xu_K_bar0", "xu_constants", "xu_contraction_gap", "xu_local", "xu_mu_bar", "xu_rate_bound",
    "xu_rho_bar",
]
