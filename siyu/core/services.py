"""Workspace and staff write paths."""
from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Role, StaffRole, Workspace


@transaction.atomic
def workspace_create(*, slug, name, time_zone="Asia/Shanghai", owner=None):
    """Create a workspace; the owner (a user), if given, gets the owner role."""
    workspace = Workspace(slug=slug, name=name, time_zone=time_zone)
    workspace.full_clean()
    workspace.save()
    if owner is not None:
        staff_role_set(workspace=workspace, user=owner, role=Role.OWNER)
    return workspace


def staff_role_set(*, workspace, user, role):
    """Give a user a role in a workspace, or change the one they have."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    staff, _ = StaffRole.objects.update_or_create(workspace=workspace, user=user, defaults={"role": role})
    return staff


def staff_user_ensure(*, username, password, email=""):
    """Create a login if it does not exist yet; never changes an existing user's password."""
    user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user
