"""Login throttling on top of django-axes: the client address, lockouts in the audit, unlocking a colleague.

Axes counts failed logins (console and admin: every `authenticate` with a request) by username and by
client address separately; SIYU_LOGIN_FAILURE_LIMIT failures of either within the cool-down lock that
username or that address out until SIYU_LOGIN_COOLOFF_MINUTES have passed since the last failure.
See docs/security.md.
"""
from collections.abc import Iterable
from typing import Any
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry, Role, StaffRole, Workspace
from .roles import role_check, staff_role_get


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind SIYU_TRUSTED_PROXY_COUNT proxies the address the
    outermost of them saw (counted from the right of X-Forwarded-For, which a client cannot forge past them)."""
    proxies = settings.SIYU_TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "")
    if proxies <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    return hops[-proxies] if len(hops) >= proxies else remote


@receiver(user_locked_out, dispatch_uid="siyu_login_lockout_audit")
def login_lockout_audit(sender: object, request: HttpRequest, username: str | None, ip_address: str, **kwargs: Any) -> None:
    """One `login_locked` audit entry per workspace the locked-out login has a role in, when the lock starts
    (axes sends the signal again for every refused attempt during the lock; those carry no failure count)."""
    failures = getattr(request, "axes_failures_since_start", None)  # set by axes on the request
    if failures is None:
        return
    user = get_user_model().objects.filter(username=username).first() if username else None
    if user is None:
        return
    data = {"username": username, "address": ip_address, "failures": failures}
    AuditEntry.objects.bulk_create(
        AuditEntry(workspace_id=workspace_id, user=None, action="login_locked", subject=f"user:{user.pk}", data=data)
        for workspace_id in StaffRole.objects.filter(user=user).values_list("workspace_id", flat=True)
    )


def login_locked_usernames(*, usernames: Iterable[str]) -> set[str]:
    """Which of these usernames are locked out now (failures within the cool-down reached the limit)."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    rows = AccessAttempt.objects.filter(username__in=list(usernames), attempt_time__gte=since)
    failures: dict[str, int] = {}
    for username, count in rows.values_list("username", "failures_since_start"):
        failures[username] = failures.get(username, 0) + count
    return {name for name, count in failures.items() if count >= settings.AXES_FAILURE_LIMIT}


@transaction.atomic
def login_unlock(*, workspace: Workspace, user: User, by: User | None, via: str = "console") -> int:
    """Clear `user`'s failed logins so they can log in at once; audited as `login_unlocked` in `workspace`.

    `by` must be an owner of `workspace` (or a superuser; None is the machine's operator, the CLI), and
    `user` must have a role there. Failures recorded against the username are removed, and with them their
    share of their address's count. Returns how many attempt records were removed (0: nothing was locked).
    """
    if by is not None and not by.is_superuser:
        role_check(staff_role=staff_role_get(workspace_id=workspace.pk, user=by), roles=(Role.OWNER,),
                   message=_("Only an owner can unlock a colleague's login."))
    if not StaffRole.objects.filter(workspace=workspace, user=user).exists():
        raise PermissionDenied(_("%(username)s has no role in this workspace.") % {"username": user.get_username()})
    removed = axes_reset(username=user.get_username())
    AuditEntry.objects.create(
        workspace=workspace, user=by, action="login_unlocked", subject=f"user:{user.pk}",
        data={"username": user.get_username(), "attempts_removed": removed, "via": via},
    )
    return removed
