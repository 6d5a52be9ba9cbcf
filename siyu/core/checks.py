"""System checks of Siyu's own settings (`siyu check --deploy`)."""
import os

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .secret_key import PLACEHOLDERS, secret_key_problem

HINT = "Set SIYU_SECRET_KEY to a random key of 50 or more characters (docs/deployment.md#the-secret-key)."


@register(Tags.security, deploy=True)
def secret_key_check(app_configs: object, **kwargs: object) -> list[CheckMessage]:
    """A missing, short or published key is flagged; so is a published key among the fallbacks."""
    messages: list[CheckMessage] = []
    if problem := secret_key_problem(settings.SECRET_KEY):
        messages.append(Error(problem, hint=HINT, id="siyu.E001"))
    elif not os.environ.get("SIYU_SECRET_KEY"):
        messages.append(Warning(
            "SIYU_SECRET_KEY is not set: the key is this machine's own var/secret_key, which other machines "
            "of the same install do not share.", hint=HINT, id="siyu.W001",
        ))
    if any(key in PLACEHOLDERS for key in settings.SECRET_KEY_FALLBACKS):
        messages.append(Error(
            "SIYU_SECRET_KEY_FALLBACKS holds a published placeholder: anyone can forge what it signs.",
            hint="Remove it; values encrypted under Siyu's old fixed key still decrypt without it.", id="siyu.E002",
        ))
    return messages
