"""Members who are a group's owner or admin now are staff (members.staff), as ingest marks them from now on."""
from django.db import migrations


def mark(apps, schema_editor):
    member_model = apps.get_model("members", "Member")
    membership_model = apps.get_model("groups", "Membership")
    holders = membership_model.objects.filter(left_at__isnull=True, role__in=("owner", "admin")).values("member_id")
    member_model.objects.filter(pk__in=holders, is_staff=False, staff_via="").update(is_staff=True, staff_via="group_role")


class Migration(migrations.Migration):

    dependencies = [
        ("groups", "0006_keywordreply_mention_asker"),
        ("members", "0011_member_staff"),
    ]

    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
