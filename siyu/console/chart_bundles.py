"""Which Plotly a page loads: the smallest of the vendored dist bundles (siyu/console/static/plotly/, from npm,
MIT, docs/console.md#charts) that has every trace type the page's charts draw, and Plotly's locale for the
page's language."""
from collections.abc import Iterable
from dataclasses import dataclass

# charts.js's chart kinds (data-chart="…") and the Plotly trace type each one draws.
CHART_TRACES: dict[str, str] = {
    "spark": "scatter",
    "lines": "scatter",
    "bars": "bar",
    "pie": "pie",
    "funnel": "funnel",
    "heatmap": "heatmap",
}


@dataclass(frozen=True)
class Bundle:
    path: str  # under STATIC_URL
    package: str  # the npm package it is copied from, name@version
    traces: frozenset[str]


# Smallest first (minified bytes: 1,283,286 and 1,500,041; the full plotly.min.js is 4,815,814). The trace
# lists are the packages' READMEs'.
BUNDLES: tuple[Bundle, ...] = (
    Bundle("plotly/plotly-finance.min.js", "plotly.js-finance-dist-min@4.1.0", frozenset({
        "bar", "candlestick", "funnel", "funnelarea", "histogram", "indicator", "ohlc", "pie", "scatter", "waterfall",
    })),
    Bundle("plotly/plotly-cartesian.min.js", "plotly.js-cartesian-dist-min@4.1.1", frozenset({
        "bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour", "image", "pie",
        "scatter", "scatterternary", "violin",
    })),
)

# Plotly's locale per console language (its strings, month and weekday names, date patterns), a file that registers
# it and makes it the default; English is built in. From plotly.js-locales@3.7.0 (zh-cn.js), dates Siyu's.
LOCALES: dict[str, str] = {"zh-hans": "plotly/plotly-locale-zh-cn.js"}


def bundle_for(kinds: Iterable[str]) -> Bundle:
    """The smallest bundle that draws every chart kind in `kinds`. ValueError for a kind charts.js does not
    draw or a set no bundle covers (then vendor one that does, docs/console.md#charts)."""
    kinds = set(kinds)
    if unknown := kinds - CHART_TRACES.keys():
        raise ValueError(f"charts.js draws no {', '.join(sorted(unknown))} (it draws {', '.join(CHART_TRACES)})")
    traces = {CHART_TRACES[kind] for kind in kinds}
    for bundle in BUNDLES:
        if traces <= bundle.traces:
            return bundle
    raise ValueError(f"no vendored Plotly bundle has every trace of {', '.join(sorted(traces))}")
