"""A `dlnflow` command run in a fresh Python process, for tests of what a command imports."""

import json
import subprocess
import sys


def run_cli_fresh(argv: list[str], watched: tuple[str, ...]) -> tuple[object, list[str]]:
    """(the command's JSON output, the modules of ``watched`` loaded by the end of the run)."""
    code = ("import json, sys; from dlnflow.cli import main; "
            f"main({argv!r}); "
            f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)), "
            "file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout), json.loads(out.stderr.strip().splitlines()[-1])
