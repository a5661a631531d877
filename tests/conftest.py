"""Shared pytest setup: float64 JAX, a non-interactive matplotlib backend."""

import matplotlib

matplotlib.use("Agg")

import dlnflow  # noqa: E402,F401  (turns JAX x64 on)
