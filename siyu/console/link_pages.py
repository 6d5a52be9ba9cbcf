"""Console pages of short links and channel codes (活码): lists, a link's figures, QR and poster downloads.

Everyone with a role may look and download QR codes and posters; creating, editing and disabling
need the owner, admin or operator role. Views parse, call siyu.links.services and render: the
services' ValidationErrors are shown on the form as they are.
"""
import json
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.core.roles import OPERATORS
from siyu.groups import selectors as group_selectors
from siyu.links import selectors as link_selectors
from siyu.links import services
from siyu.links.models import BreakdownKind, ChannelCode, Link
from siyu.links.posters import MAX_BACKGROUND_BYTES, PosterFontMissing, background_read, poster_png
from siyu.links.qr import qr_png, qr_svg, scan_url
from siyu.links.rotation import code_target_choose, code_targets_load
from siyu.links.status import link_status
from siyu.members import selectors as member_selectors
from siyu.members.models import Member

from .areas import ConsoleArea, MenuEntry
from .access import errors_show, role_required, workspace_today, workspace_view
from .link_forms import ChannelCodeForm, CodeTargetForm, LinkFilterForm, LinkForm, PosterForm, UtmPreviewForm

PAGE = 50
CODES_PAGE = 20  # each code's fill levels and live target take a few queries
PERIODS = (7, 30, 90)
FOLLOW_DAYS = (1, 7, 30)
STATUS_LABELS = {
    "live": gettext_lazy("Live"), "scheduled": gettext_lazy("Not yet valid"), "expired": gettext_lazy("Expired"),
    "exhausted": gettext_lazy("Visits used up"), "disabled": gettext_lazy("Disabled"),
}
LINK_FIELDS = ("target_url", "utm", "valid_from", "valid_until", "max_visits", "tags", "group", "campaign", "channel",
               "fallback_url")


change_required = role_required(
    OPERATORS, gettext_lazy("Only owners, admins and operators can change links and channel codes."))


def _link_or_404(request, link_id):
    try:
        return link_selectors.link_get(workspace=request.workspace, link_id=link_id)
    except Link.DoesNotExist:
        raise Http404("No such link.") from None


def _code_or_404(request, code_id):
    try:
        return link_selectors.channel_code_get(workspace=request.workspace, code_id=code_id)
    except ChannelCode.DoesNotExist:
        raise Http404("No such channel code.") from None


def short_url(request, link):
    """The URL printed for `link`: on its domain, or on this site under /s/."""
    return link_selectors.link_short_url(link=link, base_url=request.build_absolute_uri("/"))


def _before(request):
    before = request.GET.get("before", "")
    return int(before) if before.isdigit() else None


@workspace_view
def links(request):
    """The workspace's short links (channel codes have their own page), newest first."""
    workspace = request.workspace
    form = LinkFilterForm(request.GET or None, tags=link_selectors.link_tags(workspace=workspace))
    filters = form.cleaned_data if form.is_valid() else {}
    now = timezone.now()
    rows, next_before = link_selectors.links_page(
        workspace=workspace, now=now, query=filters.get("q") or "", tag=filters.get("tag") or "",
        status=filters.get("status") or "", before=_before(request), limit=PAGE,
    )
    page = []
    for link, counts in rows:
        link.short_url = short_url(request, link)
        link.status = link_status(link=link, now=now)
        link.status_label = STATUS_LABELS[link.status]
        link.clicks, link.scans = counts.clicks, counts.scans
        page.append(link)
    query = request.GET.copy()
    query.pop("before", None)
    context = {"form": form, "links": page, "next_before": next_before, "query": query.urlencode(),
               "can_change": request.staff_role.can_operate}
    return render(request, "console/links.html", context)


def _utm_preview(data):
    """{"url": the final URL} for a target and UTM values, or {"error": why the target is refused}."""
    form = UtmPreviewForm(data)
    form.is_valid()
    values = form.cleaned_data
    target = values.pop("target_url", "").strip()
    if not target:
        return {}
    try:
        services.target_url_errors(target)
    except ValidationError as error:
        return {"error": error.messages[0]}
    return {"url": services.utm_url(Link(target_url=target, **values))}


def _link_form_page(request, form, link=None, status=200):
    if form.is_bound:
        preview = _utm_preview(form.data)
    else:
        preview = {"url": services.utm_url(link)} if link else {}
    return render(request, "console/links_edit.html", {"form": form, "link": link, "preview": preview}, status=status)


def _link_form(request, *, link=None):
    groups = group_selectors.group_choices(workspace=request.workspace)
    preview_url = reverse("console:link_utm_preview", args=[request.workspace.slug])
    if link is None:
        return LinkForm(request.POST or None, groups=groups, domains=link_selectors.link_domains(workspace=request.workspace), preview_url=preview_url)
    initial = {name: getattr(link, name) for name in LinkForm.base_fields if hasattr(link, name)}
    initial.update(tags=", ".join(link.tags), group=link.group_id,
                   valid_from=link.valid_from and timezone.localtime(link.valid_from),
                   valid_until=link.valid_until and timezone.localtime(link.valid_until))
    return LinkForm(request.POST or None, initial=initial, groups=groups, creating=False, preview_url=preview_url)


def _link_kwargs(request, form):
    data = form.service_fields()
    group_id = data.pop("group")
    # The choices are this workspace's groups, so the id exists.
    data["group"] = group_selectors.group_get(workspace=request.workspace, group_id=group_id) if group_id else None
    return data


@workspace_view
@change_required
def link_new(request):
    """Create a short link; GET shows the form with its UTM builder."""
    form = _link_form(request)
    if request.method != "POST":
        return _link_form_page(request, form)
    if not form.is_valid():
        return _link_form_page(request, form, status=400)
    data = _link_kwargs(request, form)
    domain_id = data.pop("domain", None)
    domain = link_selectors.link_domain_get(workspace=request.workspace, domain_id=domain_id)
    try:
        link = services.link_create(workspace=request.workspace, domain=domain, actor=request.user, **data)
    except ValidationError as error:
        errors_show(form, error)
        return _link_form_page(request, form, status=400)
    messages.success(request, _("Short link %(url)s created.") % {"url": short_url(request, link)})
    return redirect("console:link", slug=request.workspace.slug, link_id=link.pk)


@workspace_view
@change_required
def link_edit(request, link_id):
    """Change where a link goes and its limits; its slug and domain stay (they are printed)."""
    link = _link_or_404(request, link_id)
    code = link_selectors.channel_code_of(link=link)
    if code is not None:  # a code's targets are edited on the code's page
        return redirect("console:code", slug=request.workspace.slug, code_id=code.pk)
    form = _link_form(request, link=link)
    if request.method != "POST":
        return _link_form_page(request, form, link)
    if not form.is_valid():
        return _link_form_page(request, form, link, status=400)
    data = _link_kwargs(request, form)
    try:
        services.link_update(link=link, **{name: data[name] for name in LINK_FIELDS})
    except ValidationError as error:
        errors_show(form, error)
        return _link_form_page(request, form, link, status=400)
    messages.success(request, _("Link saved."))
    return redirect("console:link", slug=request.workspace.slug, link_id=link.pk)


@require_POST
@workspace_view
@change_required
def link_disable(request, link_id):
    """Disable a link, or enable it again (`enable=1`)."""
    link = _link_or_404(request, link_id)
    enable = request.POST.get("enable") == "1"
    services.link_disable(link=link, disabled=not enable)
    messages.success(request, _("Link enabled.") if enable else _("Link disabled: visits now get the “link disabled” page."))
    return redirect("console:link", slug=request.workspace.slug, link_id=link.pk)


@workspace_view
def utm_preview(request):
    """The final URL the UTM builder makes, as the operator types (htmx)."""
    return render(request, "console/links_utm_preview.html", _utm_preview(request.GET))


# -- a link's figures ------------------------------------------------------------------------------

def _choice(request, name, allowed, default):
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and int(value) in allowed else default


def _daily(link, since, today):
    rows = link_selectors.link_days(link=link, first=since, last=today)
    days = [since + timedelta(days=n) for n in range((today - since).days + 1)]
    totals = {name: sum(getattr(row, name) for row in rows.values())
              for name in ("clicks", "scans", "bots", "humans", "wechat", "members_reached")}
    chart = {
        "x": [day.isoformat() for day in days],
        "series": [
            [str(_("Clicks")), [rows[d].clicks if d in rows else 0 for d in days]],
            [str(_("Scans")), [rows[d].scans if d in rows else 0 for d in days]],
        ],
    }
    return totals, chart


def _breakdowns(link, since):
    tables = link_selectors.link_breakdowns(link=link, since=since)
    return [(BreakdownKind(kind).label, kind, tables[kind]) for kind in BreakdownKind.values]


def _poster_form_initial():
    return PosterForm(initial={"size": "1080x1920", "position": "bottom-center"})


def _link_page(request, link, *, poster_form=None, status=200):
    today = workspace_today(request)
    days = _choice(request, "days", PERIODS, 30)
    within = _choice(request, "within", FOLLOW_DAYS, 7)
    since = today - timedelta(days=days - 1)
    since_at = datetime.combine(since, time.min, tzinfo=request.workspace.tz)
    totals, chart = _daily(link, since, today)
    visits = totals["bots"] + totals["humans"]
    code = link_selectors.channel_code_of(link=link)
    context = {
        "link": link, "code": code, "short_url": short_url(request, link), "final_url": services.utm_url(link),
        "status": link_status(link=link, now=timezone.now()), "totals": totals, "visits": visits,
        "bot_share": totals["bots"] / visits if visits else None, "chart": json.dumps(chart),
        "breakdowns": _breakdowns(link, since), "days": days, "periods": PERIODS, "within": within,
        "follow_days": FOLLOW_DAYS, "followed": link_selectors.link_followed(link=link, since=since_at, within_days=within),
        "reached": link_selectors.link_reached(link=link),
        "poster_form": poster_form or _poster_form_initial(), "can_change": request.staff_role.can_operate,
    }
    context["status_label"] = STATUS_LABELS[context["status"]]
    return render(request, "console/links_detail.html", context, status=status)


@workspace_view
def link_detail(request, link_id):
    """A link's figures: clicks and scans a day, devices, referrers, bots, members reached and what followed."""
    return _link_page(request, _link_or_404(request, link_id))


# -- QR and posters --------------------------------------------------------------------------------

def _member_by_number(request, value):
    if value in (None, ""):
        return None
    try:
        return member_selectors.member_get(workspace=request.workspace, number=int(value))
    except (ValueError, Member.DoesNotExist):
        raise Http404("No such member.") from None


def _download(content, content_type, filename, attachment):
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'{"attachment" if attachment else "inline"}; filename="{filename}"'
    return response


@workspace_view
def link_qr(request, link_id, fmt):
    """The link's QR (`fmt` svg or png) with the scan marker; `m=<member number>` for a member's own."""
    if fmt not in ("svg", "png"):
        raise Http404("No such format.")
    link = _link_or_404(request, link_id)
    member = _member_by_number(request, request.GET.get("m"))
    url = scan_url(short_url(request, link), member=member)
    suffix = f"-{member.number}" if member else ""
    attachment = request.GET.get("download") == "1"
    if fmt == "svg":
        return _download(qr_svg(url), "image/svg+xml", f"{link.slug}{suffix}-qr.svg", attachment)
    size = request.GET.get("size", "")
    return _download(qr_png(url, size=int(size) if size.isdigit() else 600), "image/png", f"{link.slug}{suffix}-qr.png",
                     attachment)


@workspace_view
def link_poster(request, link_id):
    """A poster of the link as PNG: GET with the fields in the query, or POST with a background upload."""
    link = _link_or_404(request, link_id)
    form = PosterForm(request.POST or request.GET, request.FILES or None)
    if not form.is_valid():
        return _link_page(request, link, poster_form=form, status=400)
    layout = form.layout()
    member = None
    if form.cleaned_data["member"] is not None:
        try:
            member = member_selectors.member_get(workspace=request.workspace, number=form.cleaned_data["member"])
        except Member.DoesNotExist:
            form.add_error("member", _("There is no member with this number."))
    background = None
    if upload := form.cleaned_data.get("background"):
        try:
            background = background_read(upload.read(MAX_BACKGROUND_BYTES + 1))
        except ValidationError as error:
            form.add_error("background", error)
    if form.errors:
        return _link_page(request, link, poster_form=form, status=400)
    try:
        png = poster_png(url=short_url(request, link), text=form.cleaned_data["text"], layout=layout,
                         background=background, member=member)
    except PosterFontMissing as error:
        form.add_error(None, str(error))
        return _link_page(request, link, poster_form=form, status=503)
    suffix = f"-{member.number}" if member else ""
    return _download(png, "image/png", f"{link.slug}{suffix}-poster.png", attachment=True)


# -- channel codes ---------------------------------------------------------------------------------

def _fill(load):
    """A target's fill level for the page: used of capacity, as a share (capped at 1 for the bar)."""
    share = load.used / load.target.capacity if load.target.capacity else 1
    return {"load": load, "share": share, "percent": min(100, round(share * 100))}


def _code_rows(request, code):
    loads = code_targets_load(code=code, today=workspace_today(request))
    live = code_target_choose(code=code, today=workspace_today(request))
    return [dict(_fill(load), live=live.target is not None and live.target.pk == load.target.pk) for load in loads], live


@workspace_view
def codes(request):
    """Every channel code with its targets' fill levels and the target live now."""
    page, next_before = link_selectors.channel_codes_page(workspace=request.workspace, before=_before(request),
                                                          limit=CODES_PAGE)
    for code in page:
        code.short_url = short_url(request, code.link)
        code.rows, code.live = _code_rows(request, code)
    return render(request, "console/codes.html", {"codes": page, "next_before": next_before,
                                                   "can_change": request.staff_role.can_operate})


@workspace_view
@change_required
def code_new(request):
    form = ChannelCodeForm(request.POST or None, domains=link_selectors.link_domains(workspace=request.workspace))
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            domain_id = data.pop("domain")
            domain = link_selectors.link_domain_get(workspace=request.workspace, domain_id=domain_id)
            try:
                code = services.channel_code_create(workspace=request.workspace, domain=domain, actor=request.user, **data)
            except ValidationError as error:
                errors_show(form, error)
            else:
                messages.success(request, _("Channel code created; now add its targets."))
                return redirect("console:code", slug=request.workspace.slug, code_id=code.pk)
    return render(request, "console/codes_new.html", {"form": form}, status=400 if form.errors else 200)


def _code_page(request, code, *, target_form=None, status=200):
    rows, live = _code_rows(request, code)
    context = {
        "code": code, "link": code.link, "short_url": short_url(request, code.link), "rows": rows, "live": live,
        "target_form": target_form or CodeTargetForm(groups=group_selectors.group_choices(workspace=request.workspace)),
        "poster_form": _poster_form_initial(), "can_change": request.staff_role.can_operate,
    }
    return render(request, "console/codes_detail.html", context, status=status)


@workspace_view
def code_detail(request, code_id):
    return _code_page(request, _code_or_404(request, code_id))


@require_POST
@workspace_view
@change_required
def code_target_add(request, code_id):
    code = _code_or_404(request, code_id)
    form = CodeTargetForm(request.POST, groups=group_selectors.group_choices(workspace=request.workspace))
    if not form.is_valid():
        return _code_page(request, code, target_form=form, status=400)
    data = dict(form.cleaned_data)
    group_id = data.pop("group")
    group = None
    if group_id is not None:
        group = group_selectors.group_get(workspace=request.workspace, group_id=group_id)
    try:
        services.code_target_add(code=code, group=group, **data)
    except ValidationError as error:
        errors_show(form, error)
        return _code_page(request, code, target_form=form, status=400)
    messages.success(request, _("Target added."))
    return redirect("console:code", slug=request.workspace.slug, code_id=code.pk)


area = ConsoleArea(
    key="links",
    routes=[
        path("links/", links, name="links"),
        path("links/new/", link_new, name="link_new"),
        path("links/utm-preview/", utm_preview, name="link_utm_preview"),
        path("links/<int:link_id>/", link_detail, name="link"),
        path("links/<int:link_id>/edit/", link_edit, name="link_edit"),
        path("links/<int:link_id>/disable/", link_disable, name="link_disable"),
        path("links/<int:link_id>/qr.<str:fmt>", link_qr, name="link_qr"),
        path("links/<int:link_id>/poster/", link_poster, name="link_poster"),
        path("codes/", codes, name="codes"),
        path("codes/new/", code_new, name="code_new"),
        path("codes/<int:code_id>/", code_detail, name="code"),
        path("codes/<int:code_id>/targets/new/", code_target_add, name="code_target_add"),
    ],
    menu=[MenuEntry(gettext_lazy("Links"), "links", order=60, active=("link*", "code*"))],
)
