import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.channels.matrix.models import MatrixAccount
from siyu.channels.matrix.services import matrix_connect, matrix_connection_test, matrix_disconnect
from siyu.core.models import Workspace


class Command(BaseCommand):
    help = (
        "The workspace's Matrix bot from the shell: `connect` (access token from --token or SIYU_MATRIX_TOKEN, "
        "or --user with the password asked for), `test`, `status`, `disconnect`. The console's Bot page does the same."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        connect = sub.add_parser("connect", help="check the homeserver and credentials, then store the bot")
        connect.add_argument("--homeserver", required=True, help="e.g. http://127.0.0.1:8008")
        connect.add_argument("--token", help="access token (default: $SIYU_MATRIX_TOKEN)")
        connect.add_argument("--user", help="log in as this user instead (the password is asked for, or $SIYU_MATRIX_PASSWORD)")
        for name in ("connect", "test", "status", "disconnect"):
            parser_for = connect if name == "connect" else sub.add_parser(name)
            parser_for.add_argument("--workspace", required=True, help="workspace slug")

    def handle(self, *args, action, workspace, **o):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"Unknown workspace {workspace!r}.")
        try:
            if action == "connect":
                token = o["token"] or (None if o["user"] else os.environ.get("SIYU_MATRIX_TOKEN"))
                password = None
                if o["user"]:
                    password = os.environ.get("SIYU_MATRIX_PASSWORD") or getpass.getpass(f"Password of {o['user']}: ")
                connected = matrix_connect(workspace=ws, homeserver=o["homeserver"], access_token=token, user=o["user"], password=password)
                self.stdout.write(f"{ws.slug}: connected {connected.user_id} on {connected.homeserver}; invite it to your rooms.")
                return
            account = MatrixAccount.objects.filter(workspace=ws).first()
            if action == "disconnect":
                self.stdout.write("disconnected" if matrix_disconnect(workspace=ws) else "no bot was connected")
                return
            if account is None:
                raise CommandError(f"No Matrix bot is connected to {ws.slug}.")
            if action == "test":
                report = matrix_connection_test(account=account)
                self.stdout.write(f"ok: {report.user_id} (device {report.device_id or '-'}), client API {', '.join(report.versions[-3:])}")
            else:
                self.stdout.write(
                    f"{account.user_id} on {account.homeserver}: {'enabled' if account.enabled else 'disabled'}, "
                    f"last sync {account.last_sync_at or 'never'}, since {account.since[:24] or '-'}, "
                    f"last error: {account.last_error or '-'}"
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
