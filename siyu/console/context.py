from .access import staff_roles
from .areas import menu_for


def console(request):
    """The workspace switcher's entries, the current workspace and the navigation for the user's role."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    workspace = getattr(request, "workspace", None)
    staff_role = getattr(request, "staff_role", None)
    match = getattr(request, "resolver_match", None)
    current = (match.url_name or "") if match else ""
    menu = menu_for(staff_role=staff_role, workspace=workspace, current=current) if workspace else []
    return {"my_roles": staff_roles(request.user), "workspace": workspace, "staff_role": staff_role, "console_menu": menu}
