"""Workspace and staff write paths."""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry, Role, StaffRole, Workspace

# Owner first: a lower number is a higher role.
ROLE_RANK = {role: rank for rank, role in enumerate(Role.values)}


@transaction.atomic
def workspace_create(*, slug: str, name: str, time_zone: str = "Asia/Shanghai", owner: User | None = None) -> Workspace:
    """Create a workspace; the owner (a user), if given, gets the owner role."""
    workspace = Workspace(slug=slug, name=name, time_zone=time_zone)
    workspace.full_clean()
    workspace.save()
    if owner is not None:
        staff_role_set(workspace=workspace, user=owner, role=Role.OWNER)
    return workspace


def staff_role_set(*, workspace: Workspace, user: User, role: str) -> StaffRole:
    """Give a user a role in a workspace, or change the one they have, with no hierarchy check and no audit.

    Only for bootstrapping (a new workspace's owner, the demo, tests); every change made on behalf of a
    person (admin, console, CLI) goes through `staff_role_change`."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    staff, _ = StaffRole.objects.update_or_create(workspace=workspace, user=user, defaults={"role": role})
    return staff


def staff_user_ensure(*, username: str, password: str, email: str = "") -> User:
    """Create a login if it does not exist yet; never changes an existing user's password."""
    user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def staff_role_change_check(*, workspace: Workspace, user: User, role: str, by: User | None) -> None:
    """Raise ValidationError unless `by` may give `user` the role `role` in `workspace` (see staff_role_change)."""
    if role not in Role.values:
        raise ValidationError(_("Unknown role %(role)s."), params={"role": role}, code="role")
    current = StaffRole.objects.filter(workspace=workspace, user=user).values_list("role", flat=True).first()
    if by is not None and not by.is_superuser:
        own = StaffRole.objects.filter(workspace=workspace, user=by).values_list("role", flat=True).first()
        if own is None:
            raise ValidationError(_("You have no role in this workspace."), code="no_role")
        if ROLE_RANK[role] < ROLE_RANK[own]:
            raise ValidationError(
                _("You cannot grant a role above your own (%(own)s)."), params={"own": Role(own).label}, code="above"
            )
        if current is not None and user.pk != by.pk and ROLE_RANK[current] <= ROLE_RANK[own]:
            raise ValidationError(
                _("You cannot change the role of someone whose role (%(role)s) is at or above your own."),
                params={"role": Role(current).label}, code="at_or_above",
            )
    if current == Role.OWNER and role != Role.OWNER:
        others = StaffRole.objects.filter(workspace=workspace, role=Role.OWNER).exclude(user=user)
        if not others.exists():
            raise ValidationError(_("A workspace keeps at least one owner: make someone else owner first."), code="last_owner")


@transaction.atomic
def staff_role_change(*, workspace: Workspace, user: User, role: str, by: User | None, via: str = "console") -> StaffRole:
    """Give `user` the role `role` in `workspace` (adding them to it if needed) on behalf of `by`, audited.

    The hierarchy holds whoever asks: nobody grants a role above their own, nobody changes someone whose
    role is at or above their own (lowering one's own role is allowed), and the workspace always keeps at
    least one owner. `by` None is the machine's operator (the CLI without --by) and a superuser is
    unranked; neither may remove the last owner. Raises ValidationError and changes nothing when refused.
    Transactional: the staff rows are locked first (PostgreSQL), so two demotions cannot both pass the
    last-owner check; SQLite's write transactions are serialised anyway. Every change writes one
    AuditEntry `staff_role` with the old and new role and where it was made (`via`); a no-op writes none.
    """
    list(StaffRole.objects.select_for_update().filter(workspace=workspace).values_list("pk", flat=True))
    staff_role_change_check(workspace=workspace, user=user, role=role, by=by)
    staff = StaffRole.objects.filter(workspace=workspace, user=user).first()
    old = staff.role if staff else None
    if staff is not None and old == role:
        return staff
    if staff is None:
        staff = StaffRole.objects.create(workspace=workspace, user=user, role=role)
    else:
        staff.role = role
        staff.save(update_fields=["role"])
    AuditEntry.objects.create(
        workspace=workspace, user=by, action="staff_role", subject=f"user:{user.pk}",
        data={"username": user.get_username(), "from": old, "to": role, "via": via},
    )
    return staff
