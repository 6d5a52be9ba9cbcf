"""siyu.console.chart_bundles: the smallest vendored Plotly bundle for a page's charts, and what is vendored."""
from pathlib import Path

import pytest

from siyu.console.chart_bundles import BUNDLES, CHART_TRACES, LOCALES, bundle_for

STATIC = Path(__file__).resolve().parents[2] / "siyu" / "console" / "static"


def test_the_smallest_bundle_that_has_every_trace_is_chosen():
    assert bundle_for(["spark", "pie", "funnel"]).path == "plotly/plotly-finance.min.js"
    assert bundle_for(["bars"]).path == "plotly/plotly-finance.min.js"
    assert bundle_for(["spark", "lines", "bars", "heatmap"]).path == "plotly/plotly-cartesian.min.js"
    with pytest.raises(ValueError, match="no vendored Plotly bundle has every trace of funnel, heatmap"):
        bundle_for(["funnel", "heatmap"])
    with pytest.raises(ValueError, match="charts.js draws no sankey"):
        bundle_for(["sankey", "pie"])


def test_the_bundles_are_vendored_smallest_first_with_their_version_and_licence():
    sizes = [(STATIC / bundle.path).stat().st_size for bundle in BUNDLES]
    assert sizes == sorted(sizes) and max(sizes) < 1_600_000  # the full plotly.min.js is 4,815,814 bytes
    for bundle in BUNDLES:
        name, version = bundle.package.split("@")
        kind = name.removeprefix("plotly.js-").removesuffix("-dist-min")
        assert (STATIC / bundle.path).read_text()[:120].startswith(f"/**\n* plotly.js ({kind} - minified) v{version}\n")
    assert "MIT License" in (STATIC / "plotly" / "LICENSE").read_text()
    assert set(CHART_TRACES.values()) <= set().union(*(b.traces for b in BUNDLES))


def test_charts_js_draws_exactly_the_registered_kinds():
    charts = (STATIC / "console" / "charts.js").read_text()
    for kind, trace in CHART_TRACES.items():
        assert f"    {kind}: function (el, s)" in charts
        assert f'type: "{trace}"' in charts


def test_the_chinese_locale_registers_itself_with_chinese_dates():
    locale = (STATIC / LOCALES["zh-hans"]).read_text()
    assert locale.count("Plotly.register({") == 1 and "name: 'zh-CN'" in locale
    assert "dayMonth: '%-m月%-d日'" in locale and locale.rstrip().endswith("Plotly.setPlotConfig({ locale: 'zh-CN' });")
