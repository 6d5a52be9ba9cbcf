"""The demo workspace's members in depth (`siyu demo`, channels.simulator.demo): tag groups and tags (seed
003's 标签体系), a tag rule, segments; owners, groups in charge, notes and a lead list."""
import random

from django.db import transaction

from siyu.groups.models import Group
from siyu.groups.services import group_staff_set
from siyu.members.leads import leadlist_build, leadlist_create
from siyu.members.models import Member, TagChoice, TagVia
from siyu.members.notes import note_add
from siyu.members.owners import member_owner_set
from siyu.members.segments import segment_create
from siyu.members.tag_rules import tag_rule_create
from siyu.members.tags import tag_create, tag_group_create, tags_apply

TAG_GROUPS = [
    ("风格偏好", TagChoice.MULTI, [("简约", "#475467"), ("可爱", "#e04f8a"), ("复古", "#a15c07")]),
    ("消费能力", TagChoice.SINGLE, [("高", "#b42318"), ("中", "#dc6803"), ("低", "#667085")]),
    ("学科", TagChoice.MULTI, [("奥数", "#1570ef"), ("英语", "#099250")]),
]


def members_demo(*, workspace, staff=None, seed=2026):
    """Tags on about a third of the members, a live tag rule, three segments; with `staff`
    ({"operator": user, "sales": user, …}): owners, a few notes and a lead list for sales. Returns the segments."""
    rng = random.Random(seed)
    with transaction.atomic():
        tags = {}
        for group_name, choice, names in TAG_GROUPS:
            group = tag_group_create(workspace=workspace, name=group_name, choice=choice)
            for name, color in names:
                tags[name] = tag_create(workspace=workspace, name=name, group=group, color=color)
        member_ids = list(Member.objects.filter(workspace=workspace).values_list("pk", flat=True))
        pairs = []
        for member_id in member_ids:
            if rng.random() < 0.35:
                pairs.append((member_id, tags[rng.choice(["简约", "可爱", "复古"])].pk))
            if rng.random() < 0.30:
                pairs.append((member_id, tags[rng.choices(["高", "中", "低"], weights=[1, 3, 4])[0]].pk))
            if rng.random() < 0.25:
                pairs.append((member_id, tags[rng.choice(["奥数", "英语"])].pk))
        tags_apply(workspace=workspace, pairs=pairs, via=TagVia.IMPORT, key="demo")
        active = tag_create(workspace=workspace, name="近期活跃", color="#099250",
                            description="7 天内发言 ≥ 3 条（标签规则自动打）")
        tag_rule_create(workspace=workspace, tag=active, name="7 天内发言 ≥ 3 条",
                        filter={"count": "messages", "days": 7, "op": "gte", "value": 3})
        segments = [
            segment_create(workspace=workspace, name="高意向学员", description="近期活跃、90 天消费 ≥ 100 元", filter={"all": [
                {"tag": active.pk}, {"count": "spend", "days": 90, "op": "gte", "value": 100}]}),
            segment_create(workspace=workspace, name="奥数高消费", description="交给销售跟进", filter={"all": [
                {"tag": tags["奥数"].pk}, {"any": [{"tag": tags["高"].pk}, {"count": "spend", "op": "gte", "value": 500}]}]}),
            segment_create(workspace=workspace, name="沉默 14 天", description="召回对象", filter={"seen": "before", "days": 14}),
        ]
        if staff:
            _people(workspace, staff, segments[1], tags, rng)
        return segments


def _people(workspace, staff, segment, tags, rng):
    owners = [staff[name] for name in ("operator", "sales") if name in staff]
    groups = list(Group.objects.filter(workspace=workspace).order_by("pk"))
    for n, owner in enumerate(owners):
        group_staff_set(groups=groups[n::len(owners)], staff=owner, by=staff.get("demo"))
    members = list(Member.objects.filter(workspace=workspace).order_by("number"))
    for n, owner in enumerate(owners):
        member_owner_set(members=members[n::len(owners) * 2], owner=owner, by=staff.get("demo"))
    texts = [("call", "电话回访：孩子对奥数很感兴趣，想了解寒假营"), ("private_chat", "私聊：问了课程价格，预算 2000 以内"),
             ("after_sales", "售后：教材寄错版本，已补寄"), ("note", "家长比较在意作业批改的及时性")]
    for member in rng.sample(members, min(12, len(members))):
        kind, text = rng.choice(texts)
        note_add(member=member, author=rng.choice(owners), kind=kind, text=text)
    if "sales" in staff:
        lead_list = leadlist_create(
            workspace=workspace, name="奥数高消费 → 销售", segment=segment, by=staff.get("demo"),
            weights={"messages_30d": 1, "spend_yuan": 0.05, f"tag:{tags['高'].pk}": 20, "days_since_last_seen": -1},
            staff=[staff["sales"]],
        )
        leadlist_build(lead_list=lead_list)
