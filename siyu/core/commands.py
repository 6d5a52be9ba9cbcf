"""What the `siyu` management commands share: finding the --workspace, saying a ValidationError."""
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from .models import Workspace


def workspace_or_fail(slug: str) -> Workspace:
    """The workspace with this slug, or CommandError naming it."""
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise CommandError(f"Unknown workspace {slug!r}.")
    return workspace


def validation_text(exc: ValidationError) -> str:
    """A ValidationError as one line: "field: message; …" when it names fields, else its messages."""
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    return " ".join(exc.messages)
