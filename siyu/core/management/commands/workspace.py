from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from siyu.core.commands import validation_text, workspace_or_fail
from siyu.core.models import Role, Workspace
from siyu.core.selectors import staff_list
from siyu.core.services import staff_role_change, staff_user_ensure, workspace_create


class Command(BaseCommand):
    help = "Create and list workspaces, give staff a role in one, unlock a locked-out login (`create`, `list`, `staff`, `unlock`)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a workspace, optionally with its owner")
        create.add_argument("--slug", required=True, help="short name used in URLs, e.g. spark")
        create.add_argument("--name", required=True, help="display name, e.g. 星火学堂")
        create.add_argument("--time-zone", default="Asia/Shanghai", help="IANA zone; daily figures are cut at its midnight")
        create.add_argument("--owner", help="username of the owner (created if missing, with --password)")
        create.add_argument("--password", help="password for a new owner login")
        sub.add_parser("list", help="list workspaces with their staff")
        staff = sub.add_parser("staff", help="give a user a role in a workspace (creating the login if needed)")
        staff.add_argument("--workspace", required=True, help="workspace slug")
        staff.add_argument("--user", required=True, help="username")
        staff.add_argument("--role", required=True, choices=Role.values)
        staff.add_argument("--password", help="password, when the login does not exist yet")
        staff.add_argument(
            "--by", metavar="USER",
            help="act as this staff member: their role limits what they may grant (without it, as the machine's "
            "operator; either way the workspace keeps an owner and the change is audited)",
        )

        unlock = sub.add_parser("unlock", help="let a colleague locked out by failed logins log in again at once (audited)")
        unlock.add_argument("--workspace", required=True, help="workspace slug (the colleague has a role there)")
        unlock.add_argument("--user", required=True, help="username of the locked-out colleague")
        unlock.add_argument("--by", metavar="USER", help="act as this staff member, who must be an owner there")

    def handle(self, *args, action, **o):
        getattr(self, f"handle_{action}")(**o)

    def _user(self, username, password):
        from django.contrib.auth import get_user_model

        if not get_user_model().objects.filter(username=username).exists() and not password:
            raise CommandError(f"User {username!r} does not exist; give --password to create the login.")
        return staff_user_ensure(username=username, password=password or "")

    def handle_create(self, *, slug, name, time_zone, owner, password, **_):
        owner_user = self._user(owner, password) if owner else None
        try:
            workspace = workspace_create(slug=slug, name=name, time_zone=time_zone, owner=owner_user)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())) from None
        except IntegrityError:
            raise CommandError(f"A workspace with the slug {slug!r} exists already.") from None
        self.stdout.write(f"created workspace {workspace.slug} ({workspace.name}, {workspace.time_zone})")

    def handle_list(self, **_):
        for workspace in Workspace.objects.order_by("slug"):
            staff = ", ".join(
                f"{r.user.username} ({r.role})" for r in staff_list(workspace=workspace)
            )
            self.stdout.write(f"{workspace.slug}\t{workspace.name}\t{workspace.time_zone}\t{staff or '-'}")

    def _existing_user(self, username, option):
        from django.contrib.auth import get_user_model

        found = get_user_model().objects.filter(username=username).first()
        if found is None:
            raise CommandError(f"Unknown user {username!r} ({option}).")
        return found

    def handle_unlock(self, *, workspace, user, by, **_):
        from siyu.core.login import login_unlock

        ws = workspace_or_fail(workspace)
        actor = self._existing_user(by, "--by") if by else None
        try:
            removed = login_unlock(workspace=ws, user=self._existing_user(user, "--user"), by=actor, via="cli")
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{user} can log in again ({removed} failed-login record(s) removed)")

    def handle_staff(self, *, workspace, user, role, password, by, **_):
        ws = workspace_or_fail(workspace)
        actor = self._existing_user(by, "--by") if by else None
        try:
            with transaction.atomic():  # a refused change leaves no new login behind either
                staff_role_change(workspace=ws, user=self._user(user, password), role=role, by=actor, via="cli")
        except ValidationError as exc:
            raise CommandError(validation_text(exc)) from None
        self.stdout.write(f"{user} is {role} in {ws.slug}")
