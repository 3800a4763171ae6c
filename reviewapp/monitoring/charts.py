"""Server-side SVG charts: the analysis page's written by hand, the drift page's with matplotlib
(Agg: no display, no browser library).

Figures are built with the object API (`Figure`), never pyplot: pyplot keeps global state that
is not safe across a web server's threads. Text is drawn as paths (svg.fonttype "path"), so a
camera name in a label cannot inject markup into the page; each bar links to its clips.

matplotlib is imported by the first chart drawn (`_figure`), not with this module: the URLconf
imports the monitoring views, so every web process, beat and `manage.py` call would carry it
(~0.5 s, ~40 MB) to draw a chart on two pages.
"""

from __future__ import annotations

import io
import re
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FALSE = "#d9534f"
OK = "#5b8fb9"
_HEADER = re.compile(r"^.*?(?=<svg)", re.S)


def _figure(**kwargs) -> Figure:
    import matplotlib

    matplotlib.use("Agg")  # never a GUI backend in a server process
    from matplotlib.figure import Figure

    matplotlib.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "vigia", "font.size": 9})
    return Figure(**kwargs)


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return _HEADER.sub("", buf.getvalue(), count=1)  # inline: no XML declaration or doctype


def _text(x, y, value, **attrs) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(str(value))}</text>'


def _bar(x, y, w, h, colour, url="") -> str:
    rect = f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" fill="{colour}"/>'
    return f'<a href="{escape(url)}">{rect}</a>' if url else rect


def _svg_open(width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
    )


# The page's two charts are written as SVG by hand (the labels escaped): matplotlib took ~0.2 s a
# chart, 1.4 s of the page's 2 s with eight of them (benchmarks/bench_analysis.py).
def rate_bars(rows, *, title: str, urls: list[str], max_bars: int = 25) -> str:
    """False-alert rate per group (bars, clickable), with false / reviewed alerts written on each."""
    rows, urls = rows[:max_bars], urls[:max_bars]
    left, width, line = 170, 260, 20
    height = 40 + line * max(len(rows), 1) + 24
    parts = [_svg_open(left + width + 80, height), _text(4, 16, title, font_weight="bold")]
    for n, (r, url) in enumerate(zip(rows, urls)):
        y = 30 + n * line
        rate = r.false_alert_rate or 0
        parts.append(_text(left - 6, y + 13, r.label[:28], text_anchor="end"))
        parts.append(_bar(left, y + 2, width * rate, line - 6, FALSE, url))
        parts.append(_text(left + width * rate + 4, y + 13, f"{r.false_alerts}/{r.alerts_reviewed}", fill="#333"))
    axis_y = 30 + line * max(len(rows), 1)
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + width}" y2="{axis_y}" stroke="#999"/>')
    for pct in (0, 50, 100):
        parts.append(_text(left + width * pct / 100, axis_y + 14, f"{pct}%", text_anchor="middle", fill="#555"))
    parts.append(_text(left, axis_y + 28, "false-alert rate, % of reviewed alerts (false / reviewed)", fill="#555"))
    return "".join(parts) + "</svg>"


def over_time(rows, *, urls: list[str]) -> str:
    """False alerts and other reviewed alerts per day (stacked bars) and the rate (line)."""
    left, plot_w, plot_h, top = 50, 760, 150, 24
    n = max(len(rows), 1)
    step_x = plot_w / n
    peak = max([r.alerts_reviewed for r in rows] + [1])
    parts = [_svg_open(left + plot_w + 50, top + plot_h + 60)]
    parts.append(_text(left, 14, "false alerts", fill=FALSE))
    parts.append(_text(left + 90, 14, "confirmed alerts", fill=OK))
    parts.append(_text(left + 210, 14, "false-alert rate % (line)", fill="#333"))
    points = []
    for i, (r, url) in enumerate(zip(rows, urls)):
        x = left + i * step_x
        false_h = plot_h * r.false_alerts / peak
        right_h = plot_h * (r.alerts_reviewed - r.false_alerts) / peak
        base = top + plot_h
        parts.append(_bar(x + 1, base - false_h, step_x - 2, false_h, FALSE, url))
        parts.append(_bar(x + 1, base - false_h - right_h, step_x - 2, right_h, OK))
        points.append(f"{x + step_x / 2:.1f},{base - plot_h * (r.false_alert_rate or 0):.1f}")
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#333"/>')
    every = max(1, len(rows) // 12)
    for i, r in enumerate(rows[::every]):
        x = left + i * every * step_x + step_x / 2
        parts.append(
            _text(
                x, top + plot_h + 16, r.label, text_anchor="end", transform=f"rotate(-30 {x:.1f} {top + plot_h + 16})"
            )
        )
    parts.append(_text(4, top + 10, peak, fill="#555"))
    parts.append(_text(left + plot_w + 4, top + 10, "100%", fill="#555"))
    return "".join(parts) + "</svg>"


def distributions(baseline: list[float], current: list[float], *, labels: list[str], title: str) -> str:
    """Two histograms side by side (shares of clips per bin): a camera's baseline and now."""
    fig = _figure(figsize=(4.6, 2.2))
    ax = fig.subplots()
    xs = range(len(labels))
    width = 0.4
    ax.bar([x - width / 2 for x in xs], [100 * v for v in baseline], width, color="#999", label="baseline")
    ax.bar([x + width / 2 for x in xs], [100 * v for v in current], width, color=FALSE, label="current")
    ax.set_xticks(list(xs), labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("% of clips")
    ax.set_title(title, loc="left", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)
