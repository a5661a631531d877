"""Provenance: versions of Python and of the numerical packages, looked up once."""

from __future__ import annotations

import functools
import importlib.metadata
import platform

VERSION_PACKAGES = ("dlnflow", "jax", "jaxlib", "diffrax", "equinox", "optimistix", "numpy",
                    "scipy", "matplotlib", "networkx")


@functools.cache
def _versions(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for pkg in packages:
        try:
            out.append((pkg, importlib.metadata.version(pkg)))
        except importlib.metadata.PackageNotFoundError:
            out.append((pkg, "unknown"))
    return tuple(out)


def package_versions(packages: tuple[str, ...] = VERSION_PACKAGES,
                     python: bool = True) -> dict[str, str]:
    """Versions of Python (if ``python``) and of ``packages``; "unknown" when not installed."""
    out = {"python": platform.python_version()} if python else {}
    out.update(_versions(tuple(packages)))
    return out
