import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.channels.wecom.models import WeComAccount
from siyu.channels.wecom.services import wecom_callback_path, wecom_callback_test, wecom_connect, wecom_disconnect
from siyu.core.commands import validation_text, workspace_or_fail


class Command(BaseCommand):
    help = (
        "The workspace's WeCom app from the shell: `connect` (the Secret, Token and EncodingAESKey from "
        "$SIYU_WECOM_SECRET, $SIYU_WECOM_TOKEN and $SIYU_WECOM_AES_KEY, or the options), `test` (sends the callback "
        "URL a signed verification request), `status`, `disconnect`. The console's WeCom page does the same."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        connect = sub.add_parser("connect", help="store the app (its secrets encrypted) and print its callback URL")
        connect.add_argument("--corp-id", required=True, help="CorpID (My Company → Company Information)")
        connect.add_argument("--agent-id", required=True, help="the app's AgentId")
        connect.add_argument("--secret", help="the app's Secret (default: $SIYU_WECOM_SECRET)")
        connect.add_argument("--token", help="the callback Token (default: $SIYU_WECOM_TOKEN)")
        connect.add_argument("--aes-key", help="the callback EncodingAESKey (default: $SIYU_WECOM_AES_KEY)")
        test = sub.add_parser("test", help="send the callback URL a signed URL-verification request")
        for each in (connect, test):
            each.add_argument("--base-url", default="http://127.0.0.1:8000", help="Siyu's public address (default %(default)s)")
        for name in ("connect", "test", "status", "disconnect"):
            each = {"connect": connect, "test": test}.get(name) or sub.add_parser(name)
            each.add_argument("--workspace", required=True, help="workspace slug")

    def handle(self, *args, action, workspace, **o):
        ws = workspace_or_fail(workspace)
        if action == "connect":
            try:
                connected = wecom_connect(
                    workspace=ws, corp_id=o["corp_id"], agent_id=o["agent_id"],
                    secret=o["secret"] or os.environ.get("SIYU_WECOM_SECRET", ""),
                    token=o["token"] or os.environ.get("SIYU_WECOM_TOKEN", ""),
                    encoding_aes_key=o["aes_key"] or os.environ.get("SIYU_WECOM_AES_KEY", ""),
                )
            except ValidationError as exc:
                raise CommandError(validation_text(exc)) from None
            self.stdout.write(f"{ws.slug}: connected {connected}; callback URL {o['base_url'].rstrip('/')}{wecom_callback_path(connected)}")
            return
        if action == "disconnect":
            self.stdout.write("disconnected" if wecom_disconnect(workspace=ws) else "no WeCom app was connected")
            return
        account = WeComAccount.objects.filter(workspace=ws).first()
        if account is None:
            raise CommandError(f"No WeCom app is connected to {ws.slug}.")
        if action == "test":
            result = wecom_callback_test(account=account, base_url=o["base_url"])
            self.stdout.write(f"{'ok' if result.ok else 'failed'}: {result.url}: {result.detail}")
            if not result.ok:
                raise CommandError("The callback URL did not verify.")
            return
        self.stdout.write(
            f"{account} callback {wecom_callback_path(account)}: {'enabled' if account.enabled else 'disabled'}, "
            f"last callback {account.last_callback_at or 'never'}, last error: {account.last_error or '-'}"
        )
