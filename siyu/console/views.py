from datetime import timedelta

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from siyu.analytics import selectors as analytics_selectors
from siyu.analytics.calendar import day_start
from siyu.analytics.tiers import member_model_reasons, model_settings_get
from siyu.core import selectors as core_selectors
from siyu.core.events import TYPE_BY_KEY
from siyu.core.models import Role, StaffRole
from siyu.core.roles import ADMINS, OPERATORS
from siyu.groups import services as group_services
from siyu.groups import selectors as group_selectors
from siyu.groups.models import Group
from siyu.members import selectors as member_selectors
from siyu.members.models import Member

from . import member_list, member_people, member_privacy, segment_pages
from .event_text import events_describe
from .areas import ConsoleArea, MenuEntry
from .access import group_or_404, posted_id, role_required, staff_roles, workspace_today, workspace_view
from .forms import EventFilterForm, GroupFilterForm, TimelineForm


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


def login_locked_out(request, original_response=None, credentials=None):
    """What a locked-out login sees (console and admin, axes' AXES_LOCKOUT_CALLABLE): the login form, a
    translated reason and the cool-down, with 429."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    context = {
        "form": AuthenticationForm(request, initial={"username": (credentials or {}).get("username", "")}),
        "next": request.POST.get("next", ""),
        "locked_message": _(
            "Too many failed logins for this account or from this address. Try again in %(minutes)d minutes, "
            "or ask an owner of your workspace to unlock your login."
        ) % {"minutes": minutes},
    }
    return render(request, "registration/login.html", context, status=429)


ROLE_RANK = {role: rank for rank, role in enumerate(Role.values)}  # owner first


@login_required
def home(request):
    """Land in the last workspace used, else where the user's role is highest (then by name)."""
    roles = sorted(staff_roles(request.user), key=lambda r: (ROLE_RANK[r.role], r.workspace.name))
    if not roles:
        return render(request, "console/no_workspace.html")
    slugs = [r.workspace.slug for r in roles]
    slug = request.session.get("workspace")
    return redirect("console:dashboard", slug=slug if slug in slugs else slugs[0])


@workspace_view
def groups(request):
    form = GroupFilterForm(request.GET or None)
    kind = form.cleaned_data["kind"] if form.is_valid() else None
    rows = group_selectors.group_list(workspace=request.workspace, today=workspace_today(request), kind=kind)
    return render(request, "console/groups.html", {"groups": rows, "form": form})


GROUP_MEMBERS_PER_PAGE = 100


@workspace_view
def group_detail(request, group_id):
    group = group_or_404(request, group_id)
    show_past = request.GET.get("past") == "1"
    stays = Paginator(group_selectors.group_members(group=group, include_past=show_past), GROUP_MEMBERS_PER_PAGE)
    counts = group_selectors.group_counts(group=group)
    events = group_selectors.group_recent_events(group=group)
    events_describe(events, workspace=request.workspace)
    context = {
        "group": group,
        "stays": stays.get_page(request.GET.get("page")),
        "show_past": show_past,
        "counts": counts,
        "over_capacity": bool(group.capacity) and counts["members_now"] > group.capacity,
        "daily": group_selectors.group_daily(group=group, since=workspace_today(request) - timedelta(days=13)),
        "events": events,
        "staff_choices": core_selectors.staff_list(workspace=request.workspace),
        "can_change_staff": request.staff_role.can_operate,
    }
    return render(request, "console/group_detail.html", context)


@workspace_view
@role_required(OPERATORS, gettext_lazy("Only owners, admins and operators can change who is in charge of a group."))
@require_POST
def group_staff(request, group_id):
    """Put a staff member in charge of the group (operators and up)."""
    group = group_or_404(request, group_id)
    chosen = request.POST.get("staff") or None
    staff_id = posted_id(chosen)
    role = StaffRole.objects.filter(workspace=request.workspace, user_id=staff_id).select_related("user").first() if staff_id else None
    if chosen and role is None:
        messages.error(request, _("Choose a staff member of this workspace."))
    else:
        group_services.group_staff_set(groups=[group], staff=role.user if role else None, by=request.user)
        messages.success(request, _("Saved."))
    return redirect("console:group", request.workspace.slug, group.pk)


@workspace_view
def members(request):
    context = member_list.member_list_context(request=request, params=request.GET)
    more = request.GET.get("before") or request.GET.get("start")
    template = "console/_member_rows.html" if request.htmx and more else "console/members.html"
    if request.htmx and not more and request.htmx.target == "member-results":
        template = "console/_member_results.html"
    return render(request, template, context)


@workspace_view
def member_detail(request, number):
    try:
        member = member_selectors.member_get(workspace=request.workspace, number=number)
    except Member.DoesNotExist:
        raise Http404("No such member.") from None
    form = TimelineForm(request.GET or None)
    before = form.cleaned_data["before"] if form.is_valid() else None
    events, next_before = member_selectors.member_timeline(member=member, before_id=before)
    events_describe(events, workspace=request.workspace)
    events = member_people.timeline_with_notes(member=member, events=events, before_id=before, more=next_before is not None)
    context = {"member": member, "events": events, "next_before": next_before}
    if request.htmx and before:
        return render(request, "console/_timeline_rows.html", context)
    context["identities"] = list(member.identities.order_by("channel", "created_at"))
    context.update(segment_pages.member_tags_context(request, member))
    context.update(member_people.member_context(request=request, member=member))
    context.update(member_privacy.member_privacy_context(request, member))
    context["stays"] = group_selectors.member_stays(member=member)
    model = analytics_selectors.member_model_get(member=member)
    if model is not None:
        settings = model_settings_get(workspace=request.workspace)
        reasons = member_model_reasons(model=model, settings=settings)
        context["models"] = [
            (analytics_selectors.MODEL_LABELS[field], getattr(model, f"get_{field}_display")(), reasons[key],
             f"{field}:{getattr(model, field)}")
            for field, key in (("activity_tier", "activity"), ("value_tier", "value"), ("loyalty", "loyalty"), ("pyramid", "pyramid"))
        ]
        context["model_day"] = model.computed_on
    return render(request, "console/member_detail.html", context)


@workspace_view
def events(request):
    """The ledger, filtered: the events behind a figure."""
    form = EventFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    tz = request.workspace.tz
    group = member = None
    if filters.get("group"):
        group = Group.objects.filter(workspace=request.workspace, pk=filters["group"]).first()
    if filters.get("member"):
        member = Member.objects.filter(workspace=request.workspace, number=filters["member"]).first()
    since = until = None
    if filters.get("start"):
        since = day_start(tz, filters["start"])
    if filters.get("end"):
        until = day_start(tz, filters["end"] + timedelta(days=1))
    page, next_before = core_selectors.event_list(
        workspace=request.workspace, types=[TYPE_BY_KEY[k] for k in filters.get("type", [])],
        group_id=group.pk if group else None, member_id=member.pk if member else None,
        since=since, until=until, before_id=filters.get("before"),
    )
    events_describe(page, workspace=request.workspace)
    query = request.GET.copy()
    query.pop("before", None)
    context = {"form": form, "events": page, "next_before": next_before, "query": query.urlencode(), "group": group}
    return render(request, "console/events.html", context)


def refused(request, exception=None):
    """The refusal page (handler403), translated: what was refused and which roles may do it."""
    context = {
        "message": getattr(exception, "message", None) or (str(exception) if exception and exception.args else ""),
        "roles": getattr(exception, "roles", ()),
    }
    return render(request, "403.html", context, status=403)


area = ConsoleArea(
    key="groups_members_events",
    routes=[
        path("events/", events, name="events"),
        path("groups/", groups, name="groups"),
        path("groups/<int:group_id>/", group_detail, name="group"),
        path("groups/<int:group_id>/staff/", group_staff, name="group_staff"),
        path("members/", members, name="members"),
        path("members/<int:number>/", member_detail, name="member"),
    ],
    menu=[
        MenuEntry(gettext_lazy("Groups"), "groups", order=20, active=("groups", "group", "group_analytics", "group_staff")),
        MenuEntry(gettext_lazy("Members"), "members", order=30,
                  active=("members", "member", "member_import*", "member_merge*", "handover")),
        MenuEntry(gettext_lazy("Events"), "events", order=70),
        MenuEntry(pgettext_lazy("link to the admin site", "Admin"), "admin:index", order=110, roles=ADMINS, in_workspace=False),
    ],
)
