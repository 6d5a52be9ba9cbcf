from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.models import Workspace
from siyu.core.secrets import secret_decrypt, secret_encrypt

# Synapse's own defaults for rc_message (0.2 a second, bursts of 10): a bot within them is never refused
# by a stock homeserver. Raise both here and on the server (admin API override_ratelimit) for busy bots.
DEFAULT_BOT_PER_SECOND = 0.2
DEFAULT_BOT_BURST = 10
DEFAULT_ROOM_PER_SECOND = 0.2
DEFAULT_ROOM_BURST = 5


class MatrixAccount(models.Model):
    """The bot account a workspace acts through on Matrix, and where its /sync stream stands."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="matrix_account", verbose_name=_("workspace")
    )
    homeserver = models.URLField(_("homeserver URL"), max_length=255)
    user_id = models.CharField(_("bot user id"), max_length=255)
    device_id = models.CharField(_("device id"), max_length=255, blank=True)
    access_token_encrypted = models.TextField(editable=False)
    # True when Siyu logged in with a password and so owns the session (it logs out on disconnect).
    token_from_login = models.BooleanField(default=False, editable=False)
    since = models.TextField(_("sync token"), blank=True, help_text=_("Where /sync continues; empty: start afresh."))
    enabled = models.BooleanField(_("enabled"), default=True)
    bot_per_second = models.FloatField(
        _("sends per second (bot)"), default=DEFAULT_BOT_PER_SECOND, validators=[MinValueValidator(0.01)]
    )
    bot_burst = models.PositiveIntegerField(_("burst (bot)"), default=DEFAULT_BOT_BURST, validators=[MinValueValidator(1)])
    room_per_second = models.FloatField(
        _("sends per second (each room)"), default=DEFAULT_ROOM_PER_SECOND, validators=[MinValueValidator(0.01)]
    )
    room_burst = models.PositiveIntegerField(
        _("burst (each room)"), default=DEFAULT_ROOM_BURST, validators=[MinValueValidator(1)]
    )
    connected_at = models.DateTimeField(_("connected at"), auto_now_add=True)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)

    class Meta:
        verbose_name = _("Matrix bot account")
        verbose_name_plural = _("Matrix bot accounts")

    def __str__(self):
        return f"{self.user_id} @ {self.homeserver}"

    @property
    def access_token(self):
        """The decrypted token; SecretUnreadable if the secret key changed since it was stored."""
        return secret_decrypt(self.access_token_encrypted)

    @access_token.setter
    def access_token(self, value):
        self.access_token_encrypted = secret_encrypt(value)


class MatrixDirectRoom(models.Model):
    """The room the bot created to talk to one person alone (send_private), reused for later messages."""

    account = models.ForeignKey(MatrixAccount, on_delete=models.CASCADE, related_name="direct_rooms")
    user_id = models.CharField(_("user id"), max_length=255)
    room_id = models.CharField(_("room id"), max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("Matrix direct room")
        verbose_name_plural = _("Matrix direct rooms")
        constraints = [models.UniqueConstraint(fields=["account", "user_id"], name="matrixdirect_unique_user")]
        indexes = [models.Index(fields=["account", "room_id"], name="matrixdirect_room")]


class MatrixMemberName(models.Model):
    """A room member's display name as the room's member state says, so a message's sender is named
    even when their m.room.member event came in an earlier /sync. Kept by the sync from member events,
    filled from /joined_members for a sender it does not know yet."""

    account = models.ForeignKey(MatrixAccount, on_delete=models.CASCADE, related_name="+", db_index=False)
    room_id = models.CharField(_("room id"), max_length=255)
    user_id = models.CharField(_("user id"), max_length=255)
    display_name = models.CharField(_("display name"), max_length=255)

    class Meta:
        verbose_name = _("Matrix member name")
        verbose_name_plural = _("Matrix member names")
        constraints = [models.UniqueConstraint(fields=["account", "room_id", "user_id"], name="matrixname_unique")]
