"""The analytics pages of the console: the workspace dashboard and a group's charts.

Views only parse the period, call analytics and shape rows for templates, charts and downloads.
"""
import json

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from siyu.analytics import cohorts, metrics, selectors
from siyu.analytics.rollups import rollups_refresh_recorded
from siyu.core.events import EventType
from siyu.core.roles import WRITERS, role_allows
from siyu.groups.models import Group

from .areas import ConsoleArea, MenuEntry
from .access import group_or_404, role_required, workspace_today, workspace_view
from .exports import FORMATS, table_download
from .forms import DEFAULT_PERIOD, PeriodForm


def _period(request):
    data = request.GET.copy()
    data.setdefault("period", DEFAULT_PERIOD)  # the select shows the period the figures are for
    form = PeriodForm(data, today=workspace_today(request))
    first, last, previous_first, previous_last = form.days()
    return form, first, last, previous_first, previous_last


def _events_url(request, types, first, last, group=None):
    query = "&".join(f"type={EventType(t).key}" for t in types)
    query += f"&start={first.isoformat()}&end={last.isoformat()}"
    if group is not None:
        query += f"&group={group}"
    return f"{reverse('console:events', args=[request.workspace.slug])}?{query}"


def _period_text(first, last):
    return f"{date_format(first, 'SHORT_DATE_FORMAT')} – {date_format(last, 'SHORT_DATE_FORMAT')}"


def _card(request, key, figure, previous, totals, group=None):
    metric = metrics.METRICS[key]
    delta = None
    if figure.value is not None and previous.value is not None:
        delta = figure.value - previous.value
    trend = metrics.trend(key, totals)
    return {
        "key": key,
        "metric": metric,
        "figure": figure,
        "previous": previous,
        "delta": delta,
        "better": None if delta is None or delta == 0 else (delta > 0) == metric.higher_is_better,
        "period": _period_text(figure.first, figure.last),
        "events_url": _events_url(request, metric.event_types, figure.first, figure.last, group),
        # Today is not over: its point is drawn dotted, so a half day does not read as a dive.
        "trend": json.dumps({"x": [d.isoformat() for d, _ in trend], "y": [v for _, v in trend],
                             "partial": bool(trend) and trend[-1][0] >= workspace_today(request)}),
    }


FUNNEL_LABELS = {
    "exposures": pgettext_lazy("funnel step", "Exposures"), "joined": pgettext_lazy("funnel step", "Joined (new members)"),
    "entry": pgettext_lazy("funnel step", "Bought the entry product"),
    "spoke": pgettext_lazy("funnel step", "Spoke"), "bought": pgettext_lazy("funnel step", "Bought a paid product"),
    "bought_again": pgettext_lazy("funnel step", "Bought again"),
}
SORTABLE = ("name", "members_end", *metrics.METRICS)
# A group this small (its staff and a handful of people) says little: by default it is hidden, and when
# shown it comes after the others in a metric's sort (a 2-member group has 0 % interaction "first").
SMALL_GROUP = 10


def _group_rows(workspace, first, last):
    totals = metrics.group_totals(workspace=workspace, first=first, last=last)
    groups = {g.pk: g for g in Group.objects.filter(workspace=workspace, pk__in=list(totals))}
    rows = []
    for group_id, group_totals in totals.items():
        rows.append({"group": groups[group_id], "totals": group_totals, "figures": metrics.figures(group_totals)})
    return rows


def _sort_rows(rows, sort, descending):
    """Rows sorted by one column; rows without a value there ("no data") come last in both directions,
    and in a metric's sort groups under SMALL_GROUP members come just before them."""
    def value(row):
        if sort == "name":
            return row["group"].name
        if sort == "members_end":
            return row["totals"].members_end
        return row["figures"][sort].value

    def no_data(row):
        if sort in ("name", "members_end"):
            return all(figure.value is None for figure in row["figures"].values())
        return value(row) is None

    def small(row):
        return sort not in ("name", "members_end") and row["totals"].members_end < SMALL_GROUP

    present = [r for r in rows if not no_data(r)]
    ordered = sorted((r for r in present if not small(r)), key=value, reverse=descending)
    ordered += sorted((r for r in present if small(r)), key=value, reverse=descending)
    return ordered + sorted((r for r in rows if no_data(r)), key=lambda r: r["group"].name)


def _min_members(request):
    """The groups table's minimum size (members at the end of the period): SMALL_GROUP unless the reader
    asks for another; 0 shows every group. A value that is no whole number from 0 to 1,000,000 is refused."""
    text = request.GET.get("min_members", "").strip()
    if not text:
        return SMALL_GROUP
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 1_000_000:
        messages.error(request, _("The minimum size must be a whole number from 0 to 1,000,000; showing groups with "
                                  "at least %(n)s members.") % {"n": SMALL_GROUP})
        return SMALL_GROUP
    return value


@workspace_view
def dashboard(request):
    workspace = request.workspace
    form, first, last, previous_first, previous_last = _period(request)
    table = request.GET.get("table")
    fmt = request.GET.get("format")
    if table and fmt in FORMATS:
        return _download(request, table, fmt, first, last)
    totals = metrics.period_totals(workspace=workspace, first=first, last=last)
    previous = metrics.period_totals(workspace=workspace, first=previous_first, last=previous_last)
    now, before = metrics.figures(totals), metrics.figures(previous)
    cards = [_card(request, key, now[key], before[key], totals) for key in metrics.METRICS]
    # Least interaction first: the groups going quiet are the ones to look at.
    sort = request.GET.get("sort", "interaction_rate")
    sort = sort if sort in SORTABLE else "interaction_rate"
    descending = request.GET.get("dir", "asc") == "desc"
    min_members = _min_members(request)
    rows = [r for r in _group_rows(workspace, first, last) if r["totals"].members_end >= min_members]
    rows = _sort_rows(rows, sort, descending)
    distribution = selectors.model_distribution(workspace=workspace)
    members_url = reverse("console:members", args=[workspace.slug])
    tiers = [
        {
            "field": field, "label": selectors.MODEL_LABELS[field],
            "chart": json.dumps({
                "labels": [str(label) for _, label, _ in slices], "values": [n for _, _, n in slices],
                "links": [f"{members_url}?segment={field}:{value}" for value, _, _ in slices],
            }),
            "slices": [(label, n, f"{members_url}?segment={field}:{value}") for value, label, n in slices],
        }
        for field, slices in distribution.items()
    ]
    triangle = cohorts.retention_triangle(workspace=workspace, last=last)
    funnel = cohorts.lifecycle_funnel(workspace=workspace, first=first, last=last)
    context = {
        "form": form, "first": first, "last": last, "previous_first": previous_first, "previous_last": previous_last,
        "cards": cards, "totals": totals, "rows": rows, "sort": sort, "descending": descending, "min_members": min_members,
        "small_group": SMALL_GROUP, "keep": [(k, v) for k, v in request.GET.items() if k not in ("min_members", "table", "format")],
        "metric_list": list(metrics.METRICS.values()), "tiers": tiers, "triangle": triangle,
        "weeks_after": range(1, cohorts.WEEKS_AFTER + 1), "funnel": funnel, "funnel_labels": FUNNEL_LABELS,
        "funnel_chart": json.dumps({"labels": [str(FUNNEL_LABELS[s.key]) for s in funnel], "values": [s.count for s in funnel]}),
        "query": request.GET.urlencode(), "watermark": selectors.watermark_get(workspace=workspace),
        "period_query": _period_query(request), "can_refresh": role_allows(request.staff_role, WRITERS),
    }
    return render(request, "console/dashboard.html", context)


def _period_query(request):
    keep = request.GET.copy()
    for name in ("sort", "dir", "table", "format"):
        keep.pop(name, None)
    return keep.urlencode()


def _download(request, table, fmt, first, last):
    workspace = request.workspace
    stamp = f"{first.isoformat()}_{last.isoformat()}"
    if table == "groups":
        keys = list(metrics.METRICS)
        headers = [_("Group"), _("Kind"), _("Members at start"), _("Members at end"), _("Joins"), _("Leaves"),
                   _("Exposures"), _("Messages"), _("Buyers"), _("Orders"), _("Revenue (¥)"), _("Cost (¥)")]
        headers += [str(metrics.METRICS[k].label) for k in keys]
        rows = []
        for row in _sort_rows(_group_rows(workspace, first, last), "name", False):
            t = row["totals"]
            values = [row["figures"][k].value for k in keys]
            rows.append([row["group"].name, row["group"].get_kind_display(), t.members_start, t.members_end, t.joins,
                         t.leaves, t.exposures, t.messages, t.buyers, t.orders, t.revenue_cents / 100, t.cost_cents / 100,
                         *[None if v is None else round(v, 6) for v in values]])
        return table_download(filename=f"groups_{stamp}", headers=headers, rows=rows, fmt=fmt)
    if table == "metrics":
        totals = metrics.period_totals(workspace=workspace, first=first, last=last)
        headers = [_("Metric"), _("Value"), _("Numerator"), _("Denominator"), _("Formula"), _("Period")]
        rows = [[str(f.metric.label), None if f.value is None else round(f.value, 6), f.numerator, f.denominator,
                 str(f.metric.formula), f"{first.isoformat()} – {last.isoformat()}"] for f in metrics.figures(totals).values()]
        return table_download(filename=f"metrics_{stamp}", headers=headers, rows=rows, fmt=fmt)
    if table == "tiers":
        headers = [_("Model"), _("Tier or type"), _("Members")]
        rows = [[str(selectors.MODEL_LABELS[field]), str(label), n]
                for field, slices in selectors.model_distribution(workspace=workspace).items() for _v, label, n in slices]
        return table_download(filename="member_tiers", headers=headers, rows=rows, fmt=fmt)
    if table == "cohorts":
        headers = [_("Join week"), _("Joined")]
        headers += [_("Week %(n)s in a group") % {"n": k} for k in range(1, cohorts.WEEKS_AFTER + 1)]
        headers += [_("Week %(n)s speaking") % {"n": k} for k in range(1, cohorts.WEEKS_AFTER + 1)]
        rows = [[c.week, c.size, *c.present, *c.speaking]
                for c in cohorts.retention_triangle(workspace=workspace, last=last)]
        return table_download(filename=f"cohorts_{last.isoformat()}", headers=headers, rows=rows, fmt=fmt)
    if table == "funnel":
        headers = [_("Step"), _("People"), _("Of the step before")]
        rows = [[str(FUNNEL_LABELS[s.key]), s.count, None if s.rate is None else round(s.rate, 6)]
                for s in cohorts.lifecycle_funnel(workspace=workspace, first=first, last=last)]
        return table_download(filename=f"funnel_{stamp}", headers=headers, rows=rows, fmt=fmt)
    raise Http404("No such table.")


@workspace_view
def group_analytics(request, group_id):
    """A group's daily charts and its message heatmap for the chosen period."""
    group = group_or_404(request, group_id)
    form, first, last, previous_first, previous_last = _period(request)
    series = selectors.group_series(group=group, first=first, last=last)
    days = [row.day.isoformat() for row in series]
    heatmap = selectors.message_heatmap(group=group, first=first, last=last)
    totals = metrics.period_totals(workspace=request.workspace, first=first, last=last, group=group.pk)
    previous = metrics.period_totals(workspace=request.workspace, first=previous_first, last=previous_last, group=group.pk)
    now, before = metrics.figures(totals), metrics.figures(previous)
    partial = bool(series) and series[-1].day >= workspace_today(request)
    charts = {
        "members": {"x": days, "partial": partial, "series": [[_("Members at end of day"), [r.members_end for r in series]]]},
        "flow": {"x": days, "partial": partial,
                 "series": [[_("Joins"), [r.joins for r in series]], [_("Leaves"), [r.leaves for r in series]]]},
        "speakers": {"x": days, "partial": partial, "series": [[_("Members who spoke"), [r.speakers for r in series]]]},
        "messages": {"x": days, "partial": partial, "series": [[_("Messages"), [r.messages for r in series]]]},
        "heatmap": {
            "z": heatmap, "x": list(range(24)),
            "y": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        },
    }
    if request.GET.get("format") in FORMATS:
        headers = [_("Day"), _("Members at start"), _("Members at end"), _("Joins"), _("Leaves"), _("Members who spoke"),
                   _("Messages"), _("Exposures"), _("Buyers"), _("Orders"), _("Revenue (¥)"), _("Cost (¥)")]
        rows = [[r.day, r.members_start, r.members_end, r.joins, r.leaves, r.speakers, r.messages, r.exposures,
                 r.buyers, r.orders, r.revenue_cents / 100, r.cost_cents / 100] for r in series]
        return table_download(filename=f"group_{group.pk}_{first.isoformat()}_{last.isoformat()}", headers=headers,
                              rows=rows, fmt=request.GET["format"])
    context = {
        "group": group, "form": form, "first": first, "last": last,
        "cards": [_card(request, key, now[key], before[key], totals, group=group.pk) for key in metrics.METRICS],
        "charts": json.dumps(charts, default=str), "series": series, "period_query": _period_query(request),
    }
    return render(request, "console/group_analytics.html", context)


@require_POST
@workspace_view
@role_required(WRITERS, gettext_lazy("Viewers cannot update the figures; they update by themselves within a minute."))
def analytics_refresh(request):
    """On demand: bring the rollups up to the ledger now instead of waiting for the worker."""
    result = rollups_refresh_recorded(workspace=request.workspace)
    if result is None:
        messages.error(request, _("The figures could not be updated; the dashboard says why."))
    else:
        messages.success(request, _("Figures updated: %(n)s new events read.") % {"n": result.events})
    target = request.POST.get("next", "")
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("console:dashboard", args=[request.workspace.slug])
    return HttpResponseRedirect(target)  # a path, never a view name for redirect() to reverse



area = ConsoleArea(
    key="dashboard",
    routes=[
        path("", dashboard, name="dashboard"),
        path("refresh/", analytics_refresh, name="analytics_refresh"),
        path("groups/<int:group_id>/figures/", group_analytics, name="group_analytics"),
    ],
    menu=[MenuEntry(gettext_lazy("Dashboard"), "dashboard", order=10)],
)
