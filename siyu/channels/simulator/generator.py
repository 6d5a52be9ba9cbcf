"""A deterministic synthetic community, produced day by day as raw simulator events.

The shape follows a course seller (seed 000): people discover a lead group through a channel code
(exposures, paid for by the day), pay 9.9 for a trial course and join the lead group that is filling
(the next one opens when one is full); friends they bring name them as inviter. On day 5 sales pitch
the 199 camp to the lead group (a campaign touch); a few buy it, some with a coupon, and move into the
camp's perks group (a cohort of about 100), where many renew a 99 monthly membership; a few buy the
3999 programme and join the core VIP group. Some buy discounted course materials. Activity is
heavy-tailed (a few talk a lot, most lurk), peaks at 20:00-22:00 and fades after joining; the lead
groups stay a long-lived pool (a few percent leave a week). Every Tuesday evening a recall campaign
reaches the lead-group members silent for a week, and about 40 % of them speak within 3 days (seed 002).

Same parameters, same events: every random draw comes from one `random.Random(seed)`, and every
source id is derived from the seed, the start day and a counter.
"""
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩然子轩梓涵一诺欣怡雨萱思远晨曦佳琪嘉怡俊杰文博"
CITIES = ["上海", "北京", "杭州", "深圳", "广州", "成都", "南京", "武汉", "苏州", "西安", "长沙", "重庆"]
CODES = ["poster-moments", "xiaohongshu", "douyin-live", "wechat-article", "course-page", "friend-referral"]
CODE_WEIGHTS = [30, 20, 18, 14, 10, 8]
PHRASES = [
    "打卡", "今天的课听完了", "老师讲得太好了", "有个问题想请教", "收到", "谢谢老师", "👍", "明白了",
    "作业已交", "这个怎么理解?", "学到了", "晚上直播几点开始?", "已报名", "求资料", "哈哈哈", "同问",
    "今天坚持完成了", "课程链接打不开", "太干了,收藏", "大家晚上好",
]
# Evening-heavy hour weights (0-23): operators report peaks at 20:00-22:00.
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 3, 3.5, 3.5, 3.5, 4, 3.5, 3, 3, 3, 3.5, 4, 6, 9, 10, 8, 3]
PRODUCTS = {"trial": 990, "materials": 2900, "monthly": 9900, "camp": 19900, "vip": 399900}
PRODUCT_LABELS = {  # registered in core.labels.PRODUCTS by the channels app
    "trial": gettext_lazy("Trial course"), "materials": gettext_lazy("Course materials"),
    "monthly": gettext_lazy("Monthly membership"),
    "camp": gettext_lazy("Camp"), "vip": gettext_lazy("VIP programme"),
}
# Seed 000's course seller keeps its lead groups as a long-lived pool (一是用户保留: 长期活跃的私域流量池):
# a few percent leave a week once the trial is over (about 4 %), not most of the group.
LEAD_LEAVE_PER_DAY = 0.006
# Paid conversion in single digits (seed 004: 付定转化 0-6 %, 取中上值4%): the camp's daily chance on days 5-8,
# and the materials' on day 3.
CAMP_BUY_PER_DAY = 0.006
CAMP_BUY_TALK_BONUS = 0.008  # per unit of talkativeness, at most CAMP_BUY_TALK_CAP
CAMP_BUY_TALK_CAP = 0.012
MATERIALS_BUY = 0.015
CAMP_REFUND = 0.05  # refunded the same evening
VIP_BUY_PER_DAY = 0.01  # a perks member from day 10: the few core users of seed 000's pyramid
# Seed 000: a conversion group is "100人左右的小用户群" run for about 7 days; the camp's perks groups hold one
# cohort of buyers each.
PERKS_CAPACITY = 100
# Seed 002: 对沉默用户用"唤醒活动"激活 … 3天内唤醒率达40%. Silent: no message on the 7 days before.
SILENT_DAYS = 7
RECALL_WEEKDAY = 1  # Tuesday, 20:00: the recall campaign to the lead groups' silent members
RECALL_LIMIT = 3  # recalls per person: after that the operator gives up on them (and long runs stay bounded)
WAKE_UP_CHANCE = 0.26  # a reached silent member answers within 3 days (their own chatter adds the rest)
ENTRY_PRODUCTS = {"trial"}  # the lead product (引流品) that brings people in; the others are paid products
CAMP_DISCOUNT = 5000  # the early-bird coupon some camp buyers use
MATERIALS_DISCOUNT = 1000
AD_COST_PER_EXPOSURE = 800  # cents: what the paid channels charge per view
WEEKLY_CONTENT_COST = 50000  # cents: content production, booked on Mondays for the whole workspace


@dataclass
class SimGroup:
    index: int
    kind: str
    name: str
    capacity: int
    opened: bool = False  # the teacher and assistant join when the first member is placed in it
    members: set = field(default_factory=set)


@dataclass
class Person:
    index: int
    name: str
    gender: str
    city: str
    talkativeness: float
    arrival_day: int
    code: str
    groups: dict = field(default_factory=dict)  # group index -> day joined
    bought: set = field(default_factory=set)
    last_spoke: int = -10_000  # day index of the last message
    recalls: int = 0


@dataclass(frozen=True)
class Plan:
    groups: int
    members: int
    days: int
    seed: int
    until: date
    time_zone: str = "Asia/Shanghai"

    @property
    def start(self):
        return self.until - timedelta(days=self.days)


class Community:
    """Yields the community's raw events one day at a time, in time order within each day."""

    def __init__(self, plan):
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.tz = ZoneInfo(plan.time_zone)
        self.prefix = f"s{plan.seed}-{plan.start:%Y%m%d}"  # source ids: a rerun of the same plan is a no-op
        self.counter = 0
        self.groups = self._make_groups()
        self.people = [self._make_person(i) for i in range(plan.members)]
        self.arrived: list[Person] = []  # people who have joined, for picking inviters
        self.replies: dict[int, list[tuple[Person, SimGroup]]] = {}  # day -> woken members answering that day
        self.by_arrival: dict[int, list[Person]] = {}
        for person in self.people:
            self.by_arrival.setdefault(person.arrival_day, []).append(person)

    # -- setup ---------------------------------------------------------------------------------
    def _make_groups(self):
        """The plan's groups; each opens when it is first needed, so a group never needed never exists."""
        total = max(self.plan.groups, 3)
        perks = max(1, round(total * 0.18))
        lead = total - perks - 1
        lead_capacity = max(20, math.ceil(self.plan.members / lead))
        groups = [SimGroup(i, "lead", f"9.9元体验课 {i + 1}群", lead_capacity) for i in range(lead)]
        groups += [SimGroup(lead + j, "perks", f"训练营福利 {j + 1}群", PERKS_CAPACITY) for j in range(perks)]
        groups.append(SimGroup(lead + perks, "core", "VIP核心会员群", max(50, self.plan.members // 20)))
        return groups

    def _make_person(self, index):
        rng = self.rng
        # Arrivals come in campaign waves: a ramp over the period plus weekly pushes on Mon-Wed.
        while True:
            day = int(rng.random() * self.plan.days)
            weekday = (self.plan.start + timedelta(days=day)).weekday()
            if rng.random() < (1.0 if weekday < 3 else 0.55):
                break
        return Person(
            index=index,
            name=rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
            gender=rng.choice("fm"),
            city=rng.choice(CITIES),
            # Lognormal: median about 0.4 messages a day, a long tail of people who talk all day.
            talkativeness=rng.lognormvariate(-0.9, 1.35),
            arrival_day=day,
            code=rng.choices(CODES, CODE_WEIGHTS)[0],
        )

    # -- event helpers -------------------------------------------------------------------------
    def _moment(self, day, hour=None):
        hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0] if hour is None else hour
        local = datetime.combine(self.plan.start + timedelta(days=day), time(hour), tzinfo=self.tz)
        return local + timedelta(seconds=self.rng.randrange(3600))

    def _end_of(self, day):
        return datetime.combine(self.plan.start + timedelta(days=day + 1), time(0), tzinfo=self.tz)

    def _event(self, type_, at, *, person=None, actor=None, group=None, data=None):
        self.counter += 1
        event = {"type": type_, "source_id": f"{self.prefix}-{self.counter}", "occurred_at": at, "data": data or {}}
        if person is not None:
            actor = {"id": f"s{self.plan.seed}-u{person.index}", "name": person.name}
        if actor is not None:
            event["actor"] = actor
        if group is not None:
            event["group"] = {
                "id": f"s{self.plan.seed}-g{group.index}", "name": group.name,
                "kind": group.kind, "capacity": group.capacity,
            }
        return event

    def _staff_events(self, day, group, before):
        """A group opens with its teacher (owner) and an assistant (admin), at 09:xx or just `before` its first member."""
        group.opened = True
        events = []
        for role, suffix in (("owner", "老师"), ("admin", "助教")):
            staff = {"id": f"s{self.plan.seed}-staff{group.index}-{role}", "name": f"{group.name[:6]}{suffix}"}
            at = min(self._moment(day, 9), before - timedelta(minutes=5))
            events.append(self._event("group.joined", at, actor=staff, group=group, data={"role": role}))
            events.append(self._event("group.message", at + timedelta(minutes=2), actor=staff, group=group,
                                      data={"text": f"欢迎来到{group.name}!我是{suffix}。"}))
        return events

    def _join(self, day, person, group, at, *, code=None):
        events = [] if group.opened else self._staff_events(day, group, at)
        group.members.add(person.index)
        person.groups[group.index] = day
        data = {"code": code} if code else {}
        if code == "friend-referral" and self.arrived:
            data["inviter"] = f"s{self.plan.seed}-u{self.rng.choice(self.arrived[-400:]).index}"
        return events + [self._event("group.joined", at, person=person, group=group, data=data)]

    def _leave(self, day, person, group):
        group.members.discard(person.index)
        del person.groups[group.index]
        return [self._event("group.left", self._moment(day), person=person, group=group)]

    def _order(self, at, person, product, *, discount=0):
        person.bought.add(product)
        data = {"order_id": f"{self.prefix}-o{self.counter + 1}", "amount_cents": PRODUCTS[product] - discount, "product": product,
                "product_kind": "entry" if product in ENTRY_PRODUCTS else "paid"}
        if discount:
            data["discount_cents"] = discount
        return self._event("order.paid", at, person=person, data=data)

    def _open_group(self, kind):
        """The first group of the kind with room (earlier groups refill first); if all are full, the least full."""
        for group in self.groups:
            if group.kind == kind and len(group.members) < group.capacity:
                return group
        candidates = [g for g in self.groups if g.kind == kind]
        return min(candidates, key=lambda g: len(g.members) / g.capacity)

    # -- the days ------------------------------------------------------------------------------
    def days(self):
        """Yield (day index, events of that day sorted by time)."""
        for day in range(self.plan.days):
            events = []
            events += self._arrivals(day)
            events += self._life(day)
            events += self._costs(day, events)
            events.sort(key=lambda e: e["occurred_at"])
            yield day, events

    def _costs(self, day, events):
        """Paid channels bill each lead group for the day's views; content is booked weekly."""
        views: dict[str, int] = {}
        for event in events:
            if event["type"] == "link.exposed":
                views[event["group"]["id"]] = views.get(event["group"]["id"], 0) + 1
        at = self._moment(day, 23)
        costs = []
        for group in self.groups:
            count = views.get(f"s{self.plan.seed}-g{group.index}")
            if count:
                costs.append(self._event("cost.recorded", at, group=group,
                                         data={"amount_cents": count * AD_COST_PER_EXPOSURE, "category": "ads"}))
        if (self.plan.start + timedelta(days=day)).weekday() == 0:
            costs.append(self._event("cost.recorded", self._moment(day, 10),
                                     data={"amount_cents": WEEKLY_CONTENT_COST, "category": "content"}))
        return costs

    def _arrivals(self, day):
        events = []
        for person in self.by_arrival.get(day, []):
            group = self._open_group("lead")
            at = min(self._moment(day), self._end_of(day) - timedelta(minutes=10))
            # A poster or post is seen several times before someone joins (join rate about 1 in 3).
            for _ in range(1 + int(self.rng.expovariate(0.5))):
                seen = at - timedelta(minutes=self.rng.randrange(5, 600))
                if seen.date() >= self.plan.start:
                    events.append(self._event("link.exposed", seen, group=group,
                                              data={"code": person.code, "visitor": f"v{person.index}"}))
            events.append(self._order(at, person, "trial"))
            events.append(self._event("member.profile_updated", at + timedelta(seconds=1), person=person,
                                      data={"gender": person.gender, "city": person.city}))
            events += self._join(day, person, group, at + timedelta(seconds=30), code=person.code)
            self.arrived.append(person)
            # Non-joiners who saw the same code: exposures without a join.
            for _ in range(int(self.rng.expovariate(0.8))):
                events.append(self._event("link.exposed", self._moment(day), group=group,
                                          data={"code": person.code, "visitor": f"x{person.index}-{self.counter}"}))
        return events

    def _life(self, day):
        events = []
        rng = self.rng
        for person, group in self.replies.pop(day, []):
            if group.index in person.groups:
                events.append(self._message(day, person, group, self._moment(day)))
        recall = (self.plan.start + timedelta(days=day)).weekday() == RECALL_WEEKDAY
        for person in self.people:
            if not person.groups:
                continue
            for group_index, joined in list(person.groups.items()):
                group = self.groups[group_index]
                age = day - joined
                if age <= 0:
                    continue
                kind_factor = {"lead": 1.0, "perks": 0.7, "core": 1.4}[group.kind]
                rate = person.talkativeness * kind_factor * (0.35 + 0.65 * math.exp(-age / 6))
                for _ in range(_poisson(rng, rate)):
                    events.append(self._message(day, person, group, self._moment(day)))
                events += self._lifecycle(day, age, person, group)
            if recall and person.recalls < RECALL_LIMIT and person.last_spoke < day - SILENT_DAYS:
                lead = next((self.groups[g] for g, joined in person.groups.items()
                             if self.groups[g].kind == "lead" and day - joined >= SILENT_DAYS), None)
                if lead is not None:
                    person.recalls += 1
                    events += self._touch(day, person, lead, f"recall-{self.plan.start + timedelta(days=day):%Y%m%d}", 20)
        return events

    def _message(self, day, person, group, at):
        person.last_spoke = day
        return self._event("group.message", at, person=person, group=group, data={"text": self.rng.choice(PHRASES)})

    def _touch(self, day, person, group, campaign, hour):
        """A campaign message reaches the person; a silent one answers within 3 days with WAKE_UP_CHANCE."""
        at = self._moment(day, hour)
        events = [self._event("campaign.touched", at, person=person, data={"campaign": campaign})]
        if person.last_spoke < day - SILENT_DAYS and self.rng.random() < WAKE_UP_CHANCE:
            later = self.rng.choice((0, 0, 1, 2))  # most answer the same evening
            if later:
                self.replies.setdefault(day + later, []).append((person, group))
            else:
                answer = min(at + timedelta(minutes=self.rng.randrange(5, 120)), self._end_of(day) - timedelta(minutes=1))
                events.append(self._message(day, person, group, answer))
        return events

    def _lifecycle(self, day, age, person, group):
        rng = self.rng
        events = []
        if group.kind == "lead" and age == 2 and rng.random() < min(0.6, 0.04 + person.talkativeness * 0.15):
            events.append(self._event("group.role_changed", self._moment(day), person=person, group=group,
                                      data={"role": "koc"}))
        if group.kind == "lead" and age == 5 and rng.random() < 0.9:
            events += self._touch(day, person, group, "camp-pitch", 19)
        if group.kind == "lead" and age == 3 and "materials" not in person.bought and rng.random() < MATERIALS_BUY:
            events.append(self._order(self._moment(day), person, "materials", discount=MATERIALS_DISCOUNT))
        if group.kind == "perks" and age > 0 and age % 30 == 0 and rng.random() < 0.5:
            events.append(self._order(self._moment(day), person, "monthly"))
        if group.kind == "lead" and 5 <= age <= 8 and "camp" not in person.bought:
            if rng.random() < CAMP_BUY_PER_DAY + min(CAMP_BUY_TALK_CAP, person.talkativeness * CAMP_BUY_TALK_BONUS):
                at = min(self._moment(day), self._end_of(day) - timedelta(minutes=30))
                order = self._order(at, person, "camp", discount=CAMP_DISCOUNT if rng.random() < 0.25 else 0)
                events.append(order)
                events += self._join(day, person, self._open_group("perks"), at + timedelta(minutes=5))
                if rng.random() < CAMP_REFUND:
                    # Refunded the same evening: it stays inside the simulated day.
                    events.append(self._event("order.refunded", at + timedelta(minutes=20), person=person,
                                              data={"order_id": order["data"]["order_id"],
                                                    "amount_cents": order["data"]["amount_cents"], "product": "camp"}))
        elif group.kind == "lead" and age > 7 and rng.random() < LEAD_LEAVE_PER_DAY:
            events += self._leave(day, person, group)
        elif group.kind == "perks" and age >= 10 and "vip" not in person.bought and rng.random() < VIP_BUY_PER_DAY:
            at = min(self._moment(day), self._end_of(day) - timedelta(minutes=30))
            events.append(self._order(at, person, "vip"))
            core = next(g for g in self.groups if g.kind == "core")
            if core.index not in person.groups:
                events += self._join(day, person, core, at + timedelta(minutes=10))
        elif group.kind == "perks" and rng.random() < 0.004:
            events += self._leave(day, person, group)
        return events


def _poisson(rng, rate):
    if rate <= 0:
        return 0
    # Knuth's method is fine for the small rates here; large rates use a normal approximation.
    if rate > 30:
        return max(0, int(rng.gauss(rate, math.sqrt(rate)) + 0.5))
    threshold, k, product = math.exp(-rate), 0, rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k
