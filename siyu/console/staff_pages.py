"""The Staff page: who has which role in the workspace, changing roles within the hierarchy, unlocking logins."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.core.login import login_locked_usernames, login_unlock
from siyu.core.models import Role, StaffRole
from siyu.core.roles import ADMINS
from siyu.core.services import ROLE_RANK, staff_role_change

from .access import error_lines, role_required, workspace_view
from .areas import ConsoleArea, MenuEntry


admin_required = role_required(ADMINS, gettext_lazy("Only owners and admins can manage staff."))


@workspace_view
@admin_required
def staff(request):
    """Every colleague with their role; the roles the viewer may give each; who is locked out by failed logins."""
    own_rank = ROLE_RANK[request.staff_role.role]
    rows = sorted(
        StaffRole.objects.filter(workspace=request.workspace).select_related("user"),
        key=lambda r: (ROLE_RANK[r.role], r.user.username),
    )
    locked = login_locked_usernames(usernames=[r.user.username for r in rows])
    for row in rows:
        row.locked = row.user.username in locked
        changeable = request.user.is_superuser or row.user_id == request.user.pk or ROLE_RANK[row.role] > own_rank
        row.choices = [(v, label) for v, label in Role.choices if ROLE_RANK[v] >= own_rank] if changeable else []
    context = {"rows": rows, "can_unlock": request.staff_role.role == Role.OWNER}
    return render(request, "console/staff.html", context)


def _colleague(request, user_id):
    return get_object_or_404(StaffRole.objects.select_related("user"), workspace=request.workspace, user_id=user_id).user


@workspace_view
@admin_required
@require_POST
def staff_role_post(request, user_id):
    colleague = _colleague(request, user_id)
    role = request.POST.get("role", "")
    try:
        staff_role_change(workspace=request.workspace, user=colleague, role=role, by=request.user, via="console")
    except ValidationError as exc:
        messages.error(request, " ".join(error_lines(exc)))
    else:
        messages.success(request, _("%(username)s is now %(role)s.") % {"username": colleague.username, "role": Role(role).label})
    return redirect("console:staff", slug=request.workspace.slug)


@workspace_view
@require_POST
def staff_unlock(request, user_id):
    colleague = _colleague(request, user_id)
    login_unlock(workspace=request.workspace, user=colleague, by=request.user, via="console")
    messages.success(request, _("%(username)s can log in again.") % {"username": colleague.username})
    return redirect("console:staff", slug=request.workspace.slug)


area = ConsoleArea(
    key="staff",
    routes=[
        path("staff/", staff, name="staff"),
        path("staff/<int:user_id>/role/", staff_role_post, name="staff_role"),
        path("staff/<int:user_id>/unlock/", staff_unlock, name="staff_unlock"),
    ],
    menu=[MenuEntry(gettext_lazy("Staff"), "staff", order=105, roles=ADMINS, active=("staff*",))],
)
