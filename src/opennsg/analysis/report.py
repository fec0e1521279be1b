"""The reachability matrix as one self-contained HTML page: a heatmap (green reachable, amber partial, red not),
each cell's summary in it and its boxes in a tooltip; no script, no external resource."""

from __future__ import annotations

from html import escape

from opennsg.analysis.reach import Cell, Matrix

_COLOURS = {"true": "#2e7d32", "partial": "#f9a825", "false": "#c62828"}


def _state(cell: Cell) -> str:
    return "partial" if cell.reachable == "partial" else "true" if cell.reachable else "false"


def _tooltip(cell: Cell) -> str:
    lines = [f"{cell.flows} flows allowed"]
    for box in cell.allowed[:20]:
        lines.append(
            f"{'/'.join(box.protocols)} dst {', '.join(box.local_ports[:5])} src {', '.join(box.remote_ports[:3])}"
        )
    if len(cell.allowed) > 20:
        lines.append(f"… {len(cell.allowed) - 20} more boxes")
    if cell.blocked_hops:
        lines.append("blocked at: " + ", ".join(dict.fromkeys(cell.blocked_hops)))
    return "\n".join(lines)


def matrix_html(matrix: Matrix) -> str:
    head = "".join(f'<th scope="col">{escape(matrix.label(d))}</th>' for d in matrix.destinations)
    rows = []
    for source in matrix.sources:
        cells = []
        for destination in matrix.destinations:
            cell = matrix.cell(source, destination)
            if cell is None:
                cells.append('<td class="self"></td>')
                continue
            state = _state(cell)
            cells.append(
                f'<td data-reachable="{state}" data-source="{escape(source)}" data-destination="{escape(destination)}"'
                f' style="background:{_COLOURS[state]}" title="{escape(_tooltip(cell))}">{escape(cell.summary)}</td>'
            )
        rows.append(f'<tr><th scope="row">{escape(matrix.label(source))}</th>{"".join(cells)}</tr>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OpenNSG reachability</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
table {{ border-collapse: collapse; font-size: 12px; }}
th, td {{ border: 1px solid #ddd; padding: 4px 6px; }}
td {{ color: #fff; min-width: 7rem; }}
td.self {{ background: #eee; }}
.legend span {{ display: inline-block; padding: 2px 8px; color: #fff; margin-right: 6px; }}
</style></head><body>
<h1>Reachability</h1>
<p>Rows: source; columns: destination. Each cell: destination ports reached per protocol (✓ all, — none).</p>
<p class="legend"><span style="background:{_COLOURS["true"]}">reachable</span>
<span style="background:{_COLOURS["partial"]}">partially</span>
<span style="background:{_COLOURS["false"]}">unreachable</span></p>
<table><thead><tr><th>source \\ destination</th>{head}</tr></thead><tbody>
{"".join(rows)}
</tbody></table></body></html>
"""
