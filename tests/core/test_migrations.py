"""The models and the migrations agree: a change to a model (a new event type is a change to `Event.type`'s
choices) ships with its migration, or a fresh install's database differs from the code."""
from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_is_missing_its_migration():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit_:
        pytest.fail(f"makemigrations --check found changes without a migration (exit {exit_.code}):\n{out.getvalue()}")
