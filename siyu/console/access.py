"""Every console page of a workspace goes through `workspace_view`: no role there, no page (404)."""
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.utils import timezone

from siyu.core.models import StaffRole


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
