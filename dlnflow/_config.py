"""Process-wide numerical settings: float64 everywhere (JAX x64 on before any array is made)."""

import jax

jax.config.update("jax_enable_x64", True)
