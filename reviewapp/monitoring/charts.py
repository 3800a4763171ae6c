"""Server-side SVG charts (matplotlib, Agg: no display, no browser library).

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


def rate_bars(rows, *, title: str, urls: list[str], max_bars: int = 25) -> str:
    """False-alert rate per group (bars, clickable), with false / reviewed alerts written on each."""
    rows, urls = rows[:max_bars], urls[:max_bars]
    height = 0.6 + 0.28 * max(len(rows), 1)
    fig = _figure(figsize=(6.2, height))
    ax = fig.subplots()
    labels = [r.label[:28] for r in rows]
    rates = [100 * (r.false_alert_rate or 0) for r in rows]
    bars = ax.barh(range(len(rows)), rates, color=FALSE, height=0.7)
    for bar, url, r in zip(bars, urls, rows):
        bar.set_url(url)
        ax.annotate(
            f" {r.false_alerts}/{r.alerts_reviewed}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=8,
            color="#333",
        )
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 110)
    ax.set_xlabel("false-alert rate, % of reviewed alerts (false / reviewed)")
    ax.set_title(title, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def over_time(rows, *, urls: list[str]) -> str:
    """False alerts and other reviewed alerts per day (stacked bars) and the rate (line)."""
    fig = _figure(figsize=(9, 2.8))
    ax = fig.subplots()
    xs = list(range(len(rows)))
    false = [r.false_alerts for r in rows]
    right = [r.alerts_reviewed - r.false_alerts for r in rows]
    bars = ax.bar(xs, false, color=FALSE, label="false alerts")
    ax.bar(xs, right, bottom=false, color=OK, label="confirmed alerts")
    for bar, url in zip(bars, urls):
        bar.set_url(url)
    step = max(1, len(rows) // 12)
    ax.set_xticks(xs[::step], [r.label for r in rows][::step], rotation=30, ha="right")
    ax.set_ylabel("reviewed alerts")
    ax.spines[["top"]].set_visible(False)
    rate_ax = ax.twinx()
    line = rate_ax.plot(
        xs, [100 * (r.false_alert_rate or 0) for r in rows], color="#333", marker="o", ms=3, label="false-alert rate %"
    )
    rate_ax.set_ylim(0, 105)
    rate_ax.set_ylabel("false-alert rate %")
    handles = ax.get_legend_handles_labels()[0] + line
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, fontsize=8, frameon=False)
    return _svg(fig)


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
