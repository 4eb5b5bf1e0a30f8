"""The statistics as a picture (/stats and the admins' Monday overview): the pipeline
funnel, inquiries received per week, and the median time to the first response per
week, drawn with matplotlib's Agg backend into a PNG.

matplotlib is imported on first use, not with the bot: it costs a second and some 30 MB
that a bot which is never asked for a chart need not pay. Chinese labels need a CJK font:
the first of CJK_FONTS found on the machine (Debian: `fonts-wqy-microhei`, which
scripts/test.sh and the Dockerfile install). Without one a Chinese chart would show empty
boxes, so none is drawn (the caption carries the figures) and the log says what to install.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from functools import cache
from typing import TYPE_CHECKING

from bot.inquiries.board import Trends
from bot.inquiries.board_views import stage_name
from bot.ui.i18n import t

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger(__name__)

# Font families with Simplified Chinese, best first, and the file names they come in.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
)
CJK_FILES = ("notosanscjk", "sourcehansans", "wqy-microhei", "wqy-zenhei", "droidsansfallback")
WIDTH, HEIGHT, DPI = 12.0, 4.2, 100  # inches and dots per inch: 1200 × 420 pixels
BAR, LINE, MUTED = "#2f6db5", "#d0702a", "#7a7a7a"
_lock = threading.Lock()  # matplotlib's rcParams are global: one chart at a time


@cache
def cjk_family() -> str | None:
    """The CJK font family matplotlib can use, or None. Fonts installed after
    matplotlib cached its font list are found by file name and added."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FONTS:
        if family in known:
            return family
    for path in font_manager.findSystemFonts(fontext="ttf"):  # .ttf, .otf and .ttc
        if any(name in path.lower().replace("_", "") for name in CJK_FILES):
            font_manager.fontManager.addfont(path)
            return str(font_manager.FontProperties(fname=path).get_name())
    return None


async def stats_png(lang: str, trends: Trends) -> bytes | None:
    """The chart in this language (a worker thread: drawing takes a moment), or None
    when it cannot be drawn readably here."""
    return await asyncio.to_thread(render_png, lang, trends)


def render_png(lang: str, trends: Trends) -> bytes | None:
    family = cjk_family() if lang == "zh" else None
    if lang == "zh" and family is None:
        log.warning("no Chinese font for the statistics chart: install fonts-wqy-microhei")
        return None
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fonts = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    with _lock, rc_context({"font.family": "sans-serif", "font.sans-serif": fonts}):
        figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        funnel, weekly, response = figure.subplots(1, 3, width_ratios=(1.1, 1.3, 1.3))
        _funnel(funnel, lang, trends)
        _weekly(weekly, lang, trends)
        _response(response, lang, trends)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _funnel(ax: Axes, lang: str, trends: Trends) -> None:
    names = [stage_name(lang, i, s) for i, (s, _) in enumerate(trends.funnel)]
    counts = [n for _, n in trends.funnel]
    positions = list(range(len(counts)))[::-1]  # the first stage on top
    ax.barh(positions, counts, color=BAR)
    ax.set_yticks(positions, names)
    for y, n in zip(positions, counts, strict=True):
        ax.annotate(str(n), (n, y), xytext=(4, 0), textcoords="offset points", va="center")
    ax.set_xlim(0, max([*counts, 1]) * 1.2)
    ax.set_title(t(lang, "chart.funnel"))
    _tidy(ax)


def _week_labels(trends: Trends) -> list[str]:
    return [f"{w.start.month}/{w.start.day}" for w in trends.weeks]


def _weekly(ax: Axes, lang: str, trends: Trends) -> None:
    from matplotlib.ticker import MaxNLocator

    counts = [w.received for w in trends.weeks]
    positions = list(range(len(counts)))
    ax.bar(positions, counts, color=BAR)
    ax.set_xticks(positions, _week_labels(trends), rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, max([*counts, 1]) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(t(lang, "chart.per_week"))
    _tidy(ax)


def _response(ax: Axes, lang: str, trends: Trends) -> None:
    positions = list(range(len(trends.weeks)))
    hours = [float("nan") if w.median_hours is None else w.median_hours for w in trends.weeks]
    ax.plot(positions, hours, color=LINE, marker="o")
    ax.set_xticks(positions, _week_labels(trends), rotation=45, ha="right", fontsize=8)
    known = [h for h in hours if h == h]  # NaN is not equal to itself
    ax.set_ylim(0, max([*known, 1.0]) * 1.2)
    ax.set_title(t(lang, "chart.median_response"))
    if not known:
        ax.text(0.5, 0.5, t(lang, "chart.no_answers"), transform=ax.transAxes,
                ha="center", va="center", color=MUTED)  # fmt: skip
    _tidy(ax)


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
