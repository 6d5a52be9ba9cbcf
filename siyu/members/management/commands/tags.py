"""siyu tags: tag groups, tags, giving and taking them, tag rules."""
import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.core.commands import validation_text, workspace_or_fail
from siyu.members.tag_rules import tag_rule_build, tag_rule_create
from siyu.members.models import Member, MemberTag, Tag, TagChoice, TagGroup, TagRule, TagVia
from siyu.members.tags import tag_create, tag_delete, tag_group_create, tag_resolve, tags_apply, tags_remove


class Command(BaseCommand):
    help = (
        "Tags: `list`, `group` (create a tag group), `create`, `delete`, `add` / `remove` (give or take a tag, "
        "by member numbers), `rule` (create a tag rule from a JSON filter, see docs/members.md), `rules`, `rebuild`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (("list", "tags with their groups and how many members have each"), ("rules", "tag rules")):
            p = sub.add_parser(name, help=text)
            p.add_argument("--workspace", required=True, help="workspace slug")
        group = sub.add_parser("group", help="create a tag group")
        group.add_argument("--workspace", required=True)
        group.add_argument("name")
        group.add_argument("--single", action="store_true", help="one tag of the group at a time (e.g. 消费能力)")
        create = sub.add_parser("create", help="create a tag")
        create.add_argument("--workspace", required=True)
        create.add_argument("name", help="tag name, or group:name to put it in a tag group")
        create.add_argument("--color", default="#475467")
        delete = sub.add_parser("delete", help="delete a tag (taken from every member; segments naming it show an error)")
        delete.add_argument("--workspace", required=True)
        delete.add_argument("tag", help="tag name or group:name")
        for name, text in (("add", "give a tag to members"), ("remove", "take a tag from members")):
            p = sub.add_parser(name, help=text)
            p.add_argument("--workspace", required=True)
            p.add_argument("tag", help="tag name or group:name")
            p.add_argument("numbers", nargs="+", type=int, help="member numbers (学号)")
        rule = sub.add_parser("rule", help="create a tag rule and apply it now")
        rule.add_argument("--workspace", required=True)
        rule.add_argument("tag", help="tag name or group:name")
        rule.add_argument("--name", required=True)
        rule.add_argument("--filter", required=True, help='JSON, e.g. {"count": "messages", "days": 7, "op": "gte", "value": 3}')
        rule.add_argument("--keep", action="store_true", help="keep the tag when the condition stops holding")
        rebuild = sub.add_parser("rebuild", help="re-apply every active tag rule over all members")
        rebuild.add_argument("--workspace", required=True)

    def handle(self, *args, action, **o):
        ws = workspace_or_fail(o["workspace"])
        try:
            getattr(self, f"handle_{action}")(ws, **o)
        except ValidationError as exc:
            raise CommandError(validation_text(exc))

    def _tag(self, ws, text):
        tag = tag_resolve(workspace=ws, text=text)
        if tag is None:
            raise CommandError(f"No tag {text!r} in {ws.slug} (see `siyu tags list --workspace {ws.slug}`).")
        return tag

    def handle_list(self, ws, **o):
        for tag in Tag.objects.filter(workspace=ws, deleted_at__isnull=True).select_related("group"):
            count = MemberTag.objects.filter(tag=tag).count()
            self.stdout.write(f"{tag.pk:>5}  {str(tag):<30} {count:>8} members")

    def handle_rules(self, ws, **o):
        for rule in TagRule.objects.filter(workspace=ws).select_related("tag"):
            state = "active" if rule.active else "paused"
            error = f"  ERROR: {rule.error}" if rule.error else ""
            self.stdout.write(f"{rule.pk:>5}  {rule.name:<30} → {rule.tag}  {state}  {json.dumps(rule.filter, ensure_ascii=False)}{error}")

    def handle_group(self, ws, name, single, **o):
        group = tag_group_create(workspace=ws, name=name, choice=TagChoice.SINGLE if single else TagChoice.MULTI)
        self.stdout.write(f"Tag group {group.pk} {group.name} ({group.choice}).")

    def handle_create(self, ws, name, color, **o):
        group = None
        if ":" in name:
            group_name, name = name.split(":", 1)
            group = TagGroup.objects.filter(workspace=ws, name=group_name).first()
            if group is None:
                raise CommandError(f"No tag group {group_name!r}: create it with `siyu tags group`.")
        tag = tag_create(workspace=ws, name=name, group=group, color=color)
        self.stdout.write(f"Tag {tag.pk} {tag}.")

    def handle_delete(self, ws, tag, **o):
        tag = self._tag(ws, tag)
        taken = tag_delete(tag=tag)
        self.stdout.write(f"Deleted {tag}; taken from {taken} members.")

    def _pairs(self, ws, tag, numbers):
        ids = dict(Member.objects.filter(workspace=ws, number__in=numbers).values_list("number", "pk"))
        missing = sorted(set(numbers) - set(ids))
        if missing:
            raise CommandError(f"No member number {', '.join(map(str, missing))} in {ws.slug}; nothing changed.")
        return [(ids[n], tag.pk) for n in numbers]

    def handle_add(self, ws, tag, numbers, **o):
        tag = self._tag(ws, tag)
        given = tags_apply(workspace=ws, pairs=self._pairs(ws, tag, numbers), via=TagVia.MANUAL)
        self.stdout.write(f"Gave {tag} to {given} members ({len(numbers) - given} had it).")

    def handle_remove(self, ws, tag, numbers, **o):
        tag = self._tag(ws, tag)
        taken = tags_remove(workspace=ws, pairs=self._pairs(ws, tag, numbers), via=TagVia.MANUAL)
        self.stdout.write(f"Took {tag} from {taken} members.")

    def handle_rule(self, ws, tag, name, filter, keep, **o):
        try:
            condition = json.loads(filter)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--filter is not JSON: {exc}")
        rule = tag_rule_create(workspace=ws, tag=self._tag(ws, tag), name=name, filter=condition, untag_when_unmatched=not keep)
        count = MemberTag.objects.filter(rule=rule).count()
        self.stdout.write(f"Tag rule {rule.pk} {rule.name}: {count} members tagged {rule.tag}.")

    def handle_rebuild(self, ws, **o):
        for rule in TagRule.objects.filter(workspace=ws, active=True).select_related("tag", "workspace"):
            given, taken = tag_rule_build(rule=rule)
            self.stdout.write(f"{rule.name}: +{given} −{taken}" + (f"  ERROR: {rule.error}" if rule.error else ""))
