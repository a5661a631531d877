"""Property-based test of the command line (issue 11): random option sets and random bad values
for every subcommand, run in-process through ``dlnflow.cli.main``.

The contract: every invocation exits 0 or 2; exit 2 prints exactly one line on stderr, names the
flag the user typed (never an internal name such as ``max_steps`` or ``Stop.max_steps``) and no
traceback; with ``--json`` an exit 0 prints one valid JSON document (no NaN or Infinity).

Valid runs are kept cheap (depth <= 3, at most 2 starts, --max-steps <= 50, --t1 <= 1) and use a
few shapes only, so that the compiled functions are reused across examples. ``figures`` is only
run with ``--list`` or with an unknown figure name (never computing a figure).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlnflow.cli import main

COUNTS = {"invocations": 0, "contract_held": 0, "exit_0": 0, "exit_2": 0}
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

INTERNAL = re.compile(
    r"(\b(?:Stop|SaveAt|Solver)\.\w+)|\b(?:max_steps|stop_at_loss|init_kind|init_scale|"
    r"target_diag|params0|t1|eta|etas|rtol|atol|depth|width|seeds?|batch|alpha|level|horizon)"
    r"\s+must\b")
ARGPARSE = ("the following arguments are required", "unrecognized arguments", "argument ",
            "ambiguous option", "unknown figure ")


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def invoke(argv: list[str]) -> tuple[int, str, str]:
    """Run ``dlnflow argv`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return rc, out.getvalue(), err.getvalue()


def check_contract(argv: list[str]) -> tuple[int, str, str]:
    """Invoke and assert the contract; count the invocation and whether it held."""
    COUNTS["invocations"] += 1
    rc, out, err = invoke(argv)
    where = f"dlnflow {' '.join(argv)}"
    assert rc in (0, 2), f"{where}: exit {rc}\n{err[-2000:]}"
    assert "Traceback" not in err, f"{where}: traceback\n{err[-2000:]}"
    if rc == 2:
        lines = err.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].strip(), f"{where}: stderr is not one line: {err!r}"
        line = lines[0]
        assert "error:" in line, f"{where}: {line!r}"
        message = line.split("error:", 1)[1]
        bare = re.sub(r"--[A-Za-z0-9][\w-]*", "", message)
        assert not INTERNAL.search(bare), f"{where}: internal name in {line!r}"
        assert "--" in message or any(a in message for a in ARGPARSE), \
            f"{where}: the message names no flag: {line!r}"
        COUNTS["exit_2"] += 1
    else:
        if "--json" in argv and not {"-h", "--help"} & set(argv):
            try:
                json.loads(out, parse_constant=_reject_constant)
            except ValueError as exc:
                pytest.fail(f"{where}: stdout is not valid JSON ({exc}): {out[:500]!r}")
        COUNTS["exit_0"] += 1
    COUNTS["contract_held"] += 1
    return rc, out, err


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    sys.__stderr__.write(f"\ncli property test: {COUNTS['invocations']} invocations, contract held "
                         f"in {COUNTS['contract_held']} (exit 0: {COUNTS['exit_0']}, exit 2: "
                         f"{COUNTS['exit_2']})\n")


# --------------------------------------------------------------------------- value strategies
BAD_INT = st.sampled_from(["0", "-1", "-7", "99999999999999999999", "2147483648", "1.5", "x",
                           "", " ", "nan", "1e3", "-", "3,4", "0x10", "9" * 5000])
BAD_FLOAT = st.sampled_from(["nan", "inf", "-inf", "x", "", "1e400", "-1e400", "1,2", "--",
                             "-", "0x1", "1e", "NaN", "- 1"])
BAD_POSITIVE = st.one_of(BAD_FLOAT, st.sampled_from(["0", "-0", "-1e-3", "-5", "0.0"]))
BAD_LIST = st.sampled_from(["", ",", "1,,2", "1,nan", "a,b", "inf,1", "1e999,1", "-x,1", "1;2",
                            "1 2", "-", "-,-"])
JUNK = st.text(min_size=0, max_size=12)


def _number(lo: float, hi: float) -> st.SearchStrategy[str]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.3g}")


def _numbers(n: int, lo: float = -1.5, hi: float = 1.5) -> st.SearchStrategy[str]:
    return st.lists(_number(lo, hi), min_size=n, max_size=n).map(",".join)


Option = tuple[str, str, st.SearchStrategy[str]]
"""(flag, a good value, a strategy of bad values)."""

MODES = st.sampled_from(["valid", "one_bad", "one_bad", "messy"])


def _assemble(draw, command: str, options: list[Option]) -> list[str]:
    """argv from the options: all good ("valid"), one of them bad, random text or left out
    ("one_bad"), or each good, bad, random or left out ("messy"); in a random order, written as
    '--flag value' or '--flag=value', with or without --json, and in bad examples sometimes a
    stray token."""
    mode = draw(MODES)
    values: list[str | None] = [good for _, good, _ in options]
    spoil = set()
    if mode == "one_bad" and options:
        spoil = {draw(st.integers(0, len(options) - 1))}
    elif mode == "messy":
        spoil = {k for k in range(len(options)) if draw(st.booleans())}
    for k in sorted(spoil):
        kind = draw(st.sampled_from(["bad", "bad", "junk", "omit"]))
        values[k] = (draw(options[k][2]) if kind == "bad" else draw(JUNK) if kind == "junk"
                     else None)
    pairs = [(flag, v) for (flag, _, _), v in zip(options, values, strict=True) if v is not None]
    argv = [command]
    for k in draw(st.permutations(range(len(pairs)))):
        flag, value = pairs[k]
        if draw(st.booleans()) and not value.startswith("--"):
            argv.append(f"{flag}={value}")
        else:
            argv += [flag, value]
    if draw(st.booleans()):
        argv.append("--json")
    if mode != "valid" and draw(st.integers(0, 9)) == 0:
        argv.insert(draw(st.integers(1, len(argv))),
                    draw(st.sampled_from(["--bogus", "stray", "-q", "--json", "--", "-1"])))
    return argv


DEPTHS = st.sampled_from([1, 2, 3])
MAX_STEPS = st.sampled_from(["1", "10", "50"])
KINDS = ["lecun_normal", "gaussian", "near_identity", "orthogonal", "balanced", "identity",
         "zero_first", "zeros", "xavier", "he_normal", "glorot_normal"]


@st.composite
def problem_and_start(draw) -> list[Option]:
    """--depth, --target / --target-diag / --width and --init / --init-kind / --seeds / --seed
    (a random subset of the optional ones)."""
    depth = draw(DEPTHS)
    opts: list[Option] = [("--depth", str(depth), BAD_INT)]
    matrix = draw(st.booleans())
    if matrix:
        opts.append(("--target-diag", draw(st.sampled_from(["1,2", "2"])), BAD_LIST))
        if draw(st.booleans()):
            opts.append(("--width", "2", BAD_INT))
    elif draw(st.booleans()):
        opts.append(("--target", draw(_number(-2, 2)), BAD_FLOAT))
    if not matrix and draw(st.booleans()):
        opts.append(("--init", draw(_numbers(depth)),
                     st.one_of(BAD_LIST, _numbers(depth + 1), _numbers(depth - 1)
                               if depth > 1 else st.just("1,2"))))
    else:
        if draw(st.booleans()):
            opts.append(("--init-kind", draw(st.sampled_from(KINDS)),
                         st.sampled_from(["foo", "", "LECUN", "-1"])))
        if draw(st.booleans()):
            opts.append(("--seeds", draw(st.sampled_from(["1", "2"])), BAD_INT))
        if draw(st.booleans()):
            opts.append(("--seed", draw(st.sampled_from(["0", "7", str(2**63 - 1)])),
                         st.one_of(BAD_INT, st.just(str(2**63)))))
    if draw(st.booleans()):
        opts.append(("--init-scale", draw(_number(-2, 2)), BAD_FLOAT))
    return opts


@st.composite
def gd_argv(draw) -> list[str]:
    opts = draw(problem_and_start())
    opts.append(("--eta", draw(_number(1e-3, 1.5)), BAD_POSITIVE))
    opts.append(("--max-steps", draw(MAX_STEPS), BAD_INT))
    if draw(st.booleans()):
        opts.append(("--stop-at-loss", draw(_number(1e-9, 1)), BAD_POSITIVE))
    return _assemble(draw, "gd", opts)


@st.composite
def flow_argv(draw) -> list[str]:
    opts = draw(problem_and_start())
    opts.append(("--t1", draw(st.sampled_from(["0.5", "1"])), BAD_POSITIVE))
    opts.append(("--max-steps", draw(MAX_STEPS), BAD_INT))
    if draw(st.booleans()):
        opts.append(("--solver", draw(st.sampled_from(["rodas4", "tsit5", "RK45", "LSODA"])),
                     st.sampled_from(["rk4", "", "RODAS4", "-x"])))
    for flag, good in (("--rtol", "1e-6"), ("--atol", "1e-8")):
        if draw(st.booleans()):
            opts.append((flag, good, BAD_POSITIVE))
    if draw(st.booleans()):
        opts.append(("--stop-at-loss", draw(st.sampled_from(["1e-3", "0.1"])), BAD_POSITIVE))
    return _assemble(draw, "flow", opts)


@st.composite
def rates_argv(draw) -> list[str]:
    depth = draw(st.sampled_from([1, 2]))
    opts: list[Option] = [
        ("--depth", str(depth), BAD_INT),
        ("--init", draw(_numbers(depth, -1.2, 1.2)), st.one_of(BAD_LIST, _numbers(depth + 1)))]
    if draw(st.booleans()):
        opts.append(("--target", draw(st.sampled_from(["1", "-1", "0.5"])), BAD_FLOAT))
    if draw(st.booleans()):
        etas = st.lists(st.sampled_from(["0.05", "0.3", "1.9"]), min_size=1, max_size=2)
        bad = st.one_of(BAD_LIST, st.sampled_from(["-0.1,0.1", "0", "0.1,-1e-3", "-inf"]))
        opts.append(("--etas", draw(etas.map(",".join)), bad))
    if draw(st.booleans()):
        opts.append(("--stop-at-loss", draw(st.sampled_from(["1e-6", "1e-3"])), BAD_POSITIVE))
    opts.append(("--t1", draw(st.sampled_from(["0.5", "1"])), BAD_POSITIVE))
    opts.append(("--max-steps", draw(MAX_STEPS), BAD_INT))
    return _assemble(draw, "rates", opts)


@st.composite
def critical_argv(draw) -> list[str]:
    opts: list[Option] = [("--depth", str(draw(st.sampled_from([1, 2, 3]))), BAD_INT)]
    if draw(st.booleans()):
        opts.append(("--target", draw(st.sampled_from(["1", "-0.5", "2"])),
                     st.one_of(BAD_FLOAT, st.just("0"))))
    else:
        bad = st.one_of(BAD_LIST, st.sampled_from(["1,1", "0,1", "1,2,3,4,5", "1,-1"]))
        opts.append(("--target-diag", draw(st.sampled_from(["1,2", "2", "-1,0.5"])), bad))
        if draw(st.booleans()):
            opts.append(("--width", draw(st.sampled_from(["2", "3"])), BAD_INT))
    return _assemble(draw, "critical", opts)


@st.composite
def continuation_argv(draw) -> list[str]:
    depth = draw(st.sampled_from([1, 2, 3]))
    opts: list[Option] = [("--depth", str(depth), BAD_INT)]
    if draw(st.booleans()):
        opts.append(("--target", draw(st.sampled_from(["1", "-0.5", "2"])),
                     st.one_of(BAD_FLOAT, st.just("0"))))
    opts.append(("--eta-range", draw(st.sampled_from(["0.1,0.6", "0.3,1.2", "0.05,0.2"])),
                 st.one_of(BAD_LIST, st.sampled_from(["0.5,0.1", "0,1", "-1,1", "1", "1,2,3",
                                                      "0.2,0.2"]))))
    if draw(st.booleans()):
        opts.append(("--period", draw(st.sampled_from(["1", "2"])),
                     st.one_of(BAD_INT, st.sampled_from(["3", "6"]))))
    if draw(st.booleans()):
        opts.append(("--init", draw(_numbers(depth, 0.5, 1.5)),
                     st.one_of(BAD_LIST, _numbers(depth + 1))))
    return _assemble(draw, "continuation", opts)


def _figure_names() -> set[str]:
    from dlnflow import pipeline

    return {item["name"] for item in pipeline.list_figures()}


@st.composite
def figures_argv(draw, tmp: str) -> list[str]:
    """--list (with random other options), or an unknown figure name among the names (so that
    nothing is ever computed)."""
    known = sorted(_figure_names())
    argv = ["figures"]
    listing = draw(st.booleans())
    names = draw(st.lists(st.sampled_from(known), max_size=2))
    if not listing:
        unknown = draw(st.one_of(
            st.sampled_from(["nope", "rate-table", "RATE_TABLE", "figure1", "x y"]),
            st.text(st.characters(codec="ascii", exclude_characters="-"), min_size=1,
                    max_size=10)).filter(lambda n: n not in known and n.strip() != ""))
        names.insert(draw(st.integers(0, len(names))), unknown)
    argv += names
    if listing:
        argv.append("--list")
    if draw(st.booleans()):
        argv += ["--format", draw(st.one_of(st.sampled_from(["pdf", "png,svg", "bmp", "", ",",
                                                             "pdf,jpg"]), JUNK))]
    if draw(st.booleans()):
        argv.append("--quick")
    if draw(st.booleans()):
        argv.append("--force")
    argv += ["--out", tmp]
    if draw(st.booleans()):
        argv.append("--json")
    return argv


# --------------------------------------------------------------------------- properties
@SETTINGS
@given(gd_argv())
def test_gd_contract(argv):
    check_contract(argv)


@SETTINGS
@given(flow_argv())
def test_flow_contract(argv):
    check_contract(argv)


@SETTINGS
@given(rates_argv())
def test_rates_contract(argv):
    check_contract(argv)


@SETTINGS
@given(critical_argv())
def test_critical_contract(argv):
    check_contract(argv)


@settings(SETTINGS, max_examples=30)
@given(continuation_argv())
def test_continuation_contract(argv):
    check_contract(argv)


def test_figures_contract(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("figures_out"))

    @SETTINGS
    @given(figures_argv(tmp))
    def prop(argv):
        rc, out, _ = check_contract(argv)
        if "--list" not in argv:
            assert rc == 2, f"dlnflow {' '.join(argv)}: an unknown figure was not refused"

    prop()


@SETTINGS
@given(st.lists(st.one_of(JUNK, st.sampled_from(["gd", "flow", "rates", "critical", "figures",
                                                 "continuation", "sweep", "--json",
                                                 "--depth", "-h", "--x"])),
                max_size=4))
def test_top_level_contract(argv):
    """Random tokens after ``dlnflow``: help, a one-line refusal, or (rarely) a cheap run."""
    if argv and argv[0] == "figures" and "--list" not in argv and "-h" not in argv:
        argv = [*argv, "--list"]          # never compute figures here
    check_contract(argv)


# --------------------------------------------------------------------------- the cases
def test_seed_out_of_range_is_one_line():
    rc, out, err = check_contract(["gd", "--depth", "3", "--target", "1", "--eta", "0.1",
                                   "--seed", "99999999999999999999", "--max-steps", "10"])
    assert rc == 2 and out == ""
    assert "argument --seed: must be an integer from 0 to 9223372036854775807" in err


@pytest.mark.parametrize("flag", ["--depth", "--width", "--seeds", "--max-steps"])
def test_every_integer_option_is_range_checked(flag):
    argv = ["gd", "--depth", "2", "--target-diag", "1,2", "--eta", "0.1", "--max-steps", "5",
            flag, "99999999999999999999"]
    rc, _, err = check_contract(argv)
    assert rc == 2 and f"argument {flag}: must be an integer from 1 to 2147483647" in err


def test_negative_init_is_accepted():
    rc, out, _ = check_contract(["gd", "--depth", "3", "--target", "1", "--eta", "0.1",
                                 "--init", "-0.5,1,1", "--max-steps", "10", "--json"])
    assert rc == 0 and json.loads(out)["iterations"] == 10


def test_negative_etas_are_read_and_refused_by_value():
    rc, _, err = check_contract(["rates", "--depth", "2", "--init", "0.5,0.5", "--etas",
                                 "-0.1,0.1", "--t1", "1", "--max-steps", "10"])
    assert rc == 2 and "--etas must be positive, got -0.1" in err


@pytest.mark.parametrize("value", ["-1e-3", "-inf", "-x"])
def test_dash_values_reach_the_option(value):
    rc, _, err = check_contract(["critical", "--depth", "2", "--target", value])
    assert rc == (0 if value == "-1e-3" else 2)
    if rc == 2:
        assert "argument --target: must be" in err and repr(value) in err


def test_flow_max_steps_names_the_flag():
    rc, _, err = check_contract(["flow", "--depth", "2", "--init", "1,1", "--t1", "1",
                                 "--max-steps", "0"])
    assert rc == 2 and "argument --max-steps:" in err and "Stop." not in err


def test_unknown_solver_and_init_kind_name_the_flag():
    _, _, err = check_contract(["flow", "--depth", "2", "--init", "1,1", "--t1", "1",
                                "--solver", "rk4"])
    assert err.startswith("dlnflow flow: error: --solver: unknown solver 'rk4'")
    _, _, err = check_contract(["gd", "--depth", "2", "--eta", "0.1", "--init-kind", "foo"])
    assert "--init-kind: unknown initialisation 'foo'" in err


def test_unknown_figure_format_names_the_flag(tmp_path):
    rc, _, err = check_contract(["figures", "nope", "--format", "bmp", "--out", str(tmp_path)])
    assert rc == 2 and "--format" in err
