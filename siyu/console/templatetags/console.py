from django import template
from django.templatetags.static import static
from django.utils.html import format_html_join
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from siyu.channels.base import UnknownChannel
from siyu.core.kinds import KIND_LABELS
from siyu.channels.registry import adapter_get
from siyu.console.chart_bundles import LOCALES, bundle_for
from siyu.core.events import EVENT_LABELS, OWN_SOURCE, EventType
from siyu.members import sources

register = template.Library()


@register.filter
def event_label(event):
    return EVENT_LABELS.get(EventType(event.type), event.type)


@register.filter
def channel_label(name):
    """A channel's display name in the operator's language (Siyu's own events: 私域系统); unknown names as they are."""
    if name == OWN_SOURCE:
        return _("Siyu itself")
    try:
        return adapter_get(name).label
    except UnknownChannel:
        return name


@register.filter
def source_label(value):
    """A member's source in the operator's language: a known source's or a channel's label, other text as it is."""
    if not value:
        return ""
    if sources.source_known(value):
        return sources.source_label(value)
    return channel_label(value)


@register.filter
def outbox_kind(kind):
    return KIND_LABELS.get(kind, kind)


@register.filter
def yuan(cents):
    return f"{(cents or 0) / 100:,.2f}"


@register.simple_tag
def chart_scripts(*kinds):
    """The scripts of a page with charts of these kinds (charts.js's data-chart names): the smallest Plotly
    bundle that draws them all, Plotly's locale for the page's language, then charts.js (all deferred, in order)."""
    paths = [bundle_for(kinds).path]
    if locale := LOCALES.get(get_language()):
        paths.append(locale)
    paths.append("console/charts.js")
    return format_html_join("", '<script src="{}" defer></script>', ((static(path),) for path in paths))


@register.simple_tag(takes_context=True)
def wsurl(context, name, *args):
    """A console URL inside the current workspace."""
    from django.urls import reverse

    return reverse(f"console:{name}", args=[context["request"].workspace.slug, *args])


@register.filter
def figure_text(figure):
    """A metric's value as operators read it: 31.1%, 8.76, ¥231.36, 4.69×; "no data" without a denominator."""
    if figure is None or figure.value is None:
        return _("no data")
    return _format(figure.metric.unit, figure.value)


def _format(unit, value):
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "money":
        return f"¥{value / 100:,.2f}"
    if unit == "ratio":
        return f"{value:.2f}×"
    return f"{value:.2f}"


@register.simple_tag
def delta_text(card):
    """The change from the previous period, in the metric's unit (percentage points for rates)."""
    delta = card["delta"]
    if delta is None:
        return ""
    unit = card["metric"].unit
    if unit == "percent":
        return f"{delta * 100:+.1f} pp"
    if unit == "money":
        return f"{'+' if delta >= 0 else '−'}¥{abs(delta) / 100:,.2f}"
    return f"{delta:+.2f}"


@register.simple_tag
def figure_tooltip(figure):
    """Formula, period and the fraction behind a figure, for its title attribute."""
    metric = figure.metric
    numerator, denominator = _number(figure.numerator), _number(figure.denominator)
    if metric.in_cents:  # money in yuan, as on the card: revenue ÷ buyers, revenue ÷ cost
        numerator = f"¥{figure.numerator / 100:,.2f}"
        if metric.unit != "money":
            denominator = f"¥{figure.denominator / 100:,.2f}"
    fraction = _("%(numerator)s ÷ %(denominator)s") % {"numerator": numerator, "denominator": denominator}
    return _("%(label)s = %(formula)s. Period %(first)s – %(last)s: %(fraction)s. From %(source)s.") % {
        "label": metric.label, "formula": metric.formula, "first": figure.first.isoformat(),
        "last": figure.last.isoformat(), "fraction": fraction, "source": metric.source,
    }


def _number(value):
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4f}"
    return f"{int(value):,}"


@register.filter
def share(value, total):
    if value is None or not total:
        return ""
    return f"{value / total * 100:.1f}%"


@register.filter
def zip_lists(first, second):
    return list(zip(first, second))


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "")


@register.filter
def percent(value):
    return "" if value is None else f"{value * 100:.1f}%"
