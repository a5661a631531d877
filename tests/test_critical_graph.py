"""Connection graph of the depth-2 scalar chain, GraphML/JSON export, and the CLI."""

from __future__ import annotations

import json

import networkx as nx
import pytest

import dlnflow as dl
from dlnflow.cli import main
from dlnflow.critical import connection_graph, export_graph


def test_depth2_scalar_graph_connects_origin_to_both_branches(tmp_path):
    prob = dl.Problem.scalar_chain(2, 1.0)
    g = connection_graph(prob)
    assert set(g.successors("zeros={1,2}")) == {"min[++]", "min[--]"}
    assert g.nodes["zeros={1,2}"]["kind"] == "strict_saddle"
    assert g.nodes["min[++]"]["loss"] == 0.0
    gml, js = export_graph(g, tmp_path / "graph")
    back = nx.read_graphml(gml)
    assert set(back.edges) == set(g.edges)
    data = json.loads(js.read_text())
    assert {e["target"] for e in data["edges"]} == {"min[++]", "min[--]"}


def test_cli_json_list(capsys):
    assert main(["critical", "--depth", "3", "--target", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and len(rows) == 4 + 4
    kinds = sorted(r["kind"] for r in rows)
    assert kinds.count("global_min") == 4 and kinds.count("strict_saddle") == 3
    assert kinds.count("non_strict_saddle") == 1
    for r in rows:
        assert {"kind", "loss", "index", "nullity", "hessian_eigenvalues", "point"} <= set(r)
        if r["kind"] == "strict_saddle":
            assert r["loss"] == pytest.approx(2.0) and r["index"] == 1
    assert main(["critical", "--depth", "2", "--target-diag", "3,1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["loss"] for r in rows) == pytest.approx([0.0, 0.5, 4.5, 5.0])


@pytest.mark.parametrize("argv", [["--depth", "2", "--target-diag", "3,x"],
                                  ["--depth", "0", "--target", "1"],
                                  ["--depth", "2", "--target", "0"],
                                  ["--depth", "2", "--target-diag", "1,1"]])
def test_cli_bad_input(argv, capsys):
    assert main(["critical", *argv]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
