"""Every console page of a workspace goes through `workspace_view`: no role there, no page (404)."""
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.utils import timezone

from siyu.core.models import StaffRole
from siyu.groups import selectors as group_selectors
from siyu.groups.models import Group


def staff_roles(user):
    return StaffRole.objects.filter(user=user).select_related("workspace").order_by("workspace__name")


def workspace_view(view):
    """Resolve <slug> to a workspace the user has a role in, or 404; show times in its time zone."""

    @login_required
    @wraps(view)
    def wrapper(request, slug, *args, **kwargs):
        staff = StaffRole.objects.filter(user=request.user, workspace__slug=slug).select_related("workspace").first()
        if staff is None:
            raise Http404("No such workspace.")
        request.workspace = staff.workspace
        request.staff_role = staff
        request.session["workspace"] = slug
        timezone.activate(staff.workspace.tz)
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    return wrapper


def workspace_today(request):
    """Today in the workspace's time zone."""
    return timezone.now().astimezone(request.workspace.tz).date()


def group_or_404(request, group_id):
    """A group of the request's workspace, or 404 (an id from another workspace is not found either)."""
    try:
        return group_selectors.group_get(workspace=request.workspace, group_id=group_id)
    except Group.DoesNotExist:
        raise Http404("No such group.") from None
