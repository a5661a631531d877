"""The seed-000 rate table as Markdown and LaTeX (``rate_table.tables``): the median GD
iterations per depth, the fitted growth law and the censored count per paper's row, and the
Bartlett failure case below it."""

from __future__ import annotations


def _median_cells(row: dict) -> list[str]:
    cells = []
    for r in row["per_depth"]:
        med = r["quartiles"][1]
        cells.append(">cap" if med is None else f"{med:.0f}")
    return cells


def tables(data: dict, config: dict) -> dict[str, str]:
    """Markdown and LaTeX versions of the measured table (medians per depth, fitted law)."""
    depths = data["config"]["depths"]
    head = ["Paper", "Start", "Step", "Proved"] + [f"L={L}" for L in depths] + \
        ["Measured law", "Censored"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tex = [r"\begin{tabular}{l l l " + "r" * len(depths) + " l r}", r"\hline",
           " & ".join(["Paper", "Start", "Proved"] + [f"$L={L}$" for L in depths] +
                      ["Measured", "Cens."]) + r" \\", r"\hline"]
    for row in data["rows"].values():
        cens = sum(r["censored"] for r in row["per_depth"])
        cells = _median_cells(row)
        md.append("| " + " | ".join([row["paper"], row["start"], f"`{row['step']}`",
                                     row["proved"], *cells, row["summary"], str(cens)]) + " |")
        summ = row["summary"].replace("^", r"\^{}").replace("exp", r"$\exp$")
        tex.append(" & ".join([row["paper"], row["start"].replace("_", r"\_"),
                               row["proved_tex"], *[c.replace(">", "$>$") for c in cells],
                               summ, str(cens)]) + r" \\")
    tex += [r"\hline", r"\end{tabular}"]
    f = data["failure"]
    md.append("")
    md.append(f"Bartlett failure (identity start, symmetric target with eigenvalues "
              f"{f['eigs']}): predicted stalled loss 0.5 lambda_-^2 = {f['predicted']:.6g}")
    md.append("")
    md.append("| L | loss after cap | relative gap | product on negative eigvec |")
    md.append("|---|---|---|---|")
    for L, loss, gap, p in zip(f["depths"], f["loss"], f["rel_gap"], f["product_on_negative"],
                               strict=True):
        md.append(f"| {L} | {loss:.9g} | {gap:.2e} | {p[0]:.2e} |")
    return {"rate_table.md": "\n".join(md) + "\n", "rate_table.tex": "\n".join(tex) + "\n"}
