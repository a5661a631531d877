"""Package layout for setuptools; all other metadata is in pyproject.toml.

pyproject.toml's ``[tool.setuptools.packages.find]`` cannot both discover ``dlnflow*`` and add
``analyses/`` under another name, so the discovery and the mapping are done here:

* every ``dlnflow`` / ``dlnflow.*`` package found in ``dlnflow/`` (tests, benchmarks, figures,
  docs and the bare ``analyses`` are never packages of the distribution);
* the top-level folder ``analyses/`` installed as ``dlnflow.analyses`` (package-dir mapping;
  works for ``pip install .`` and ``pip install -e .``).
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(where=".", include=["dlnflow", "dlnflow.*"],
                       exclude=["tests", "tests.*", "benchmarks", "benchmarks.*"]),
        "dlnflow.analyses",
    ],
    package_dir={"dlnflow.analyses": "analyses"},
)
