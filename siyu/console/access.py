"""Who reaches a console page, and how a refusal or a service's ValidationError reaches the operator.

Every console page of a workspace goes through `workspace_view`: no role there, no page (404). A page or
an action that needs a role says so with `role_required(...)` under it: the refusal is the translated
page (403) that names the roles that may (see siyu.core.roles). A service's ValidationError goes on the
form, or into the page's messages, with `errors_show` / `errors_flash`.
"""
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.utils import timezone

from siyu.core.models import StaffRole
from siyu.core.roles import role_check
from siyu.groups import selectors as group_selectors
from siyu.groups.models import Group


# The largest id or number any row can have (a signed 64-bit integer, as both databases store them).
MAX_ID = 2**63 - 1


def posted_id(value):
    """An id posted in a form field as an int, or None when it is not one any row can have."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def staff_roles(user):
    return StaffRole.objects.filter(user=user).select_related("workspace").order_by("workspace__name")


def workspace_view(view):
    """Resolve <slug> to a workspace the user has a role in, or 404; show times in its time zone."""

    @login_required
    @wraps(view)
    def wrapper(request, slug, *args, **kwargs):
        if any(isinstance(v, int) and not 0 <= v <= MAX_ID for v in kwargs.values()):
            raise Http404("No such row.")  # no id is that large; the database would refuse the number itself
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


def role_required(roles, message, *, methods=None):
    """Refuse the view (RoleRequired: the refusal page) unless the user's role is one of `roles`.

    `message` says what is refused (a lazy translation); with `methods` (e.g. ("POST",)) only requests of
    those methods are checked: the page shows to everyone, the change needs the role. Goes right under
    @workspace_view. The roles are kept on the view (`view.roles`) for the console's areas.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if methods is None or request.method in methods:
                role_check(staff_role=request.staff_role, roles=roles, message=message)
            return view(request, *args, **kwargs)

        wrapper.roles = tuple(roles)  # type: ignore[attr-defined]  # a function attribute, which mypy cannot declare
        return wrapper

    return decorate


def error_lines(error):
    """A ValidationError as one line per message, field by field."""
    if hasattr(error, "error_dict"):
        return [message for problems in error.message_dict.values() for message in problems]
    return list(error.messages)


def errors_show(form, error):
    """Put a service's ValidationError on `form`: by field where the form has that field, else on top."""
    if hasattr(error, "error_dict"):
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
    else:
        form.add_error(None, error.messages)


def errors_flash(request, error):
    """Show a service's ValidationError in the page's messages, one message a line."""
    for line in error_lines(error):
        messages.error(request, line)


def workspace_today(request):
    """Today in the workspace's time zone."""
    return timezone.now().astimezone(request.workspace.tz).date()


def group_or_404(request, group_id):
    """A group of the request's workspace, or 404 (an id from another workspace is not found either)."""
    try:
        return group_selectors.group_get(workspace=request.workspace, group_id=group_id)
    except Group.DoesNotExist:
        raise Http404("No such group.") from None
