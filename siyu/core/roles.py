"""Who may do what: the role sets and the one check that views, commands and services use.

A view refuses before it calls a service (console/access.role_required); a service that must refuse on
its own (it is also called from the CLI or a task with no view in front of it) calls `role_check`. Both
raise `RoleRequired`, a PermissionDenied that names the roles that may, so the console's refusal page can
say which role is needed.
"""
from collections.abc import Collection
from typing import Any

from django.core.exceptions import PermissionDenied

from .models import Role, StaffRole

EVERYONE = (Role.OWNER, Role.ADMIN, Role.OPERATOR, Role.SALES, Role.VIEWER)
ADMINS = (Role.OWNER, Role.ADMIN)
OPERATORS = (Role.OWNER, Role.ADMIN, Role.OPERATOR)
WRITERS = (Role.OWNER, Role.ADMIN, Role.OPERATOR, Role.SALES)  # everyone but viewers
LEAD_LIST_READERS = (Role.OWNER, Role.ADMIN, Role.OPERATOR, Role.VIEWER)  # sales see only their own leads


class RoleRequired(PermissionDenied):
    """Refused for the staff member's role (or for having none); `roles` are the roles that may."""

    def __init__(self, message: Any, *, roles: Collection[str]) -> None:
        super().__init__(message)
        self.message = message
        self.roles = tuple(Role(role) for role in roles)


def role_allows(staff_role: StaffRole | None, roles: Collection[str]) -> bool:
    """True if `staff_role` (None: no role in the workspace) is one of `roles`."""
    return staff_role is not None and staff_role.role in roles


def role_check(*, staff_role: StaffRole | None, roles: Collection[str], message: Any) -> None:
    """Raise RoleRequired(message) unless `staff_role` is one of `roles`; nothing is read or written."""
    if not role_allows(staff_role, roles):
        raise RoleRequired(message, roles=roles)


def staff_role_get(*, workspace_id: int, user: Any) -> StaffRole | None:
    """`user`'s role in the workspace, or None (also for no user)."""
    return StaffRole.objects.filter(workspace_id=workspace_id, user=user).first() if user is not None else None
