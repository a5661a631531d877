"""Shared pytest setup: float64 JAX, a non-interactive matplotlib backend, and (with
DLNFLOW_REQUIRE_INSTALLED=1, as .ci/run sets) a check that the suite tests the installed dlnflow,
not the source checkout's dlnflow/ or analyses/."""

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import dlnflow  # noqa: E402  (turns JAX x64 on)
import dlnflow.analyses  # noqa: E402

SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _from_source_checkout() -> list[str]:
    """The dlnflow packages imported from this checkout's source folders (none if installed)."""
    sources = [SOURCE_ROOT / "dlnflow", SOURCE_ROOT / "analyses"]
    out = []
    for mod in (dlnflow, dlnflow.analyses):
        where = Path(mod.__file__).resolve()
        if any(where.is_relative_to(s) for s in sources):
            out.append(f"{mod.__name__} from {where}")
    return out


def pytest_sessionstart(session):
    if os.environ.get("DLNFLOW_REQUIRE_INSTALLED") != "1":
        return
    bad = _from_source_checkout()
    if bad:
        pytest.exit("DLNFLOW_REQUIRE_INSTALLED=1 but the tests import the source checkout, not the "
                    "installed package: " + "; ".join(bad), returncode=3)
