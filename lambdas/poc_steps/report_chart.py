"""The run report as a picture: one panel per headline metric, one bar per solution, the
Popularity-Count baseline in grey and each solution's lift over it beside its value.

A self-contained SVG written with the standard library only (the Lambda asset carries no plotting
library); browsers, the S3 console's preview and notebooks show it as it is.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

CHART_FILE = "report.svg"
METRIC_LABELS = {
    "normalized_discounted_cumulative_gain_at_10": "NDCG at 10 (ranking quality of the top 10)",
    "precision_at_10": "Precision at 10 (share of the top 10 that was relevant)",
    "mean_reciprocal_rank_at_25": "Mean reciprocal rank at 25 (how high the first relevant item is)",
    "coverage": "Coverage (share of the catalogue ever recommended)",
}
_PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_BASELINE_COLOUR = "#9e9e9e"
_WIDTH, _LABEL, _BAR, _ROW, _TOP = 860, 230, 420, 24, 64


def render_svg(report: dict[str, Any], metrics: tuple[str, ...] = tuple(METRIC_LABELS)) -> str:
    """The chart of ``report["solutions"]`` (rows of report.collect_metrics) as SVG text."""
    rows = report["solutions"]
    colours = _colours(rows)
    parts: list[str] = []
    y = _TOP
    for metric in metrics:
        parts += _panel(metric, rows, colours, y)
        y += 34 + _ROW * max(len(rows), 1) + 14
    legend = "Grey: the Popularity-Count baseline; in brackets: lift over it." if _baseline(rows) else ""
    header = [
        '<text x="16" y="28" font-size="18" font-weight="bold">Personalize POC run: offline metrics</text>',
        f'<text x="16" y="48" font-size="12" fill="#555">{escape(_subtitle(report))} {escape(legend)}</text>',
    ]
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{y + 8}" '
            f'viewBox="0 0 {_WIDTH} {y + 8}" font-family="Helvetica, Arial, sans-serif">',
            f"<title>Offline metrics of {escape(', '.join(r['solution'] for r in rows))}</title>",
            f'<rect width="{_WIDTH}" height="{y + 8}" fill="#ffffff"/>',
            *header,
            *parts,
            "</svg>",
            "",
        ]
    )


def _subtitle(report: dict[str, Any]) -> str:
    return f"Execution {report.get('execution') or 'manual'}, generated {report.get('generatedAt', '')}."


def _baseline(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((row for row in rows if row.get("baseline")), None)


def _colours(rows: list[dict[str, Any]]) -> dict[str, str]:
    colours, index = {}, 0
    for row in rows:
        if row.get("baseline"):
            colours[row["solution"]] = _BASELINE_COLOUR
        else:
            colours[row["solution"]] = _PALETTE[index % len(_PALETTE)]
            index += 1
    return colours


def _panel(metric: str, rows: list[dict[str, Any]], colours: dict[str, str], top: int) -> list[str]:
    values = [row["metrics"].get(metric) for row in rows]
    largest = max((v for v in values if v is not None), default=0.0) or 1.0
    title = escape(METRIC_LABELS.get(metric, metric))
    parts = [f'<text x="16" y="{top + 16}" font-size="14" font-weight="bold">{title}</text>']
    for index, (row, value) in enumerate(zip(rows, values, strict=True)):
        y = top + 26 + index * _ROW
        name = row["solution"] + (" (baseline)" if row.get("baseline") else "")
        parts.append(f'<text x="{_LABEL - 8}" y="{y + 14}" font-size="12" text-anchor="end">{escape(name)}</text>')
        if value is None:
            parts.append(f'<text x="{_LABEL}" y="{y + 14}" font-size="12" fill="#555">n/a</text>')
            continue
        width = max(round(_BAR * value / largest, 1), 1.0)
        lift = (row.get("liftOverBaseline") or {}).get(metric)
        label = f"{value:.4f}" + (f" ({lift:+.1f}%)" if lift is not None else "")
        parts += [
            f'<rect x="{_LABEL}" y="{y + 2}" width="{width}" height="{_ROW - 8}" '
            f"fill={quoteattr(colours[row['solution']])}>"
            f"<title>{escape(name)}: {escape(label)}</title></rect>",
            f'<text x="{_LABEL + width + 6}" y="{y + 14}" font-size="12">{escape(label)}</text>',
        ]
    return parts
