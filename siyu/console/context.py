from .access import staff_roles


def console(request):
    """The workspace switcher's entries and the current workspace, for the page header."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "my_roles": staff_roles(request.user),
        "workspace": getattr(request, "workspace", None),
        "staff_role": getattr(request, "staff_role", None),
    }
