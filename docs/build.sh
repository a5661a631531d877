#!/usr/bin/env bash
# Build the documentation site with warnings as errors, then run the docs example tests.
#   docs/build.sh [SITE_DIR]        (default: site/; needs the docs extra: pip install '.[docs]')
# `mkdocs build --strict` fails on any warning: a broken cross-reference or page link, an
# example (```python exec="on") that raises, a public name without a docstring, a figure of
# `dlnflow figures --list` without its committed quick PNG. tests/test_docs_examples.py runs the
# other Python blocks of README.md and docs/. Prints the time each step took.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
site="${1:-$repo/site}"
cd "$repo"
export NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true   # upstream banners, not warnings
# The console scripts of PYTHON's environment, not `python -m`: that would put the source tree
# ahead of the installed dlnflow, whose dlnflow.analyses (the gallery's figures) exists only
# once installed (package-dir mapping, see setup.py).
python="${PYTHON:-python}"
bin="$(dirname "$(command -v "$python")")"
t0=$SECONDS
"$bin/mkdocs" build --strict --site-dir "$site"
t1=$SECONDS
pages=$(find "$site" -name index.html | wc -l)
echo "docs: built $pages pages into $site in $((t1 - t0)) s"
"$bin/pytest" -q -p no:cacheprovider tests/test_docs_examples.py tests/test_gallery_agreement.py
echo "docs: example tests in $((SECONDS - t1)) s; total $((SECONDS - t0)) s"
