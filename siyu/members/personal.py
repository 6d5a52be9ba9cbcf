"""What each app holds about a person, for a data export, an erasure and a merge (members.privacy, members.merge).

members knows its own tables; every other app registers what it holds in its AppConfig.ready():

    personal_data_register(PersonalData(
        app="groups",
        export={"group_stays": group_stays},         # section of the data export: member → JSON-ready rows
        erase=groups_erase,                          # clears what the rows hold about the person (Erasure)
        event_keys=frozenset({"excerpt"}),           # keys of Event.data that carry the person's data
        merge_earliest={"groups.X": ("first_at", ())},  # on a merge clash the earlier date wins
    ))

Rows with a foreign key to Member are moved by a merge without registering (merge finds them in the
model registry); register `merge_earliest` only for a table where the kept row should take the
earlier date. The campaigns app will register its enrollments, check-ins and points the same way.
"""
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

from .models import Member

ERASED_NAME = "已删除 #{number}"  # stored, not shown through gettext: the row is the same in every language
ERASED_ID = "erased-{number}"  # replaces an erased person's external id where other rows name it


@dataclass(frozen=True)
class Erasure:
    """The person being erased, as an app's `erase` sees it (inside the erasure's transaction)."""

    member: Member
    identities: tuple  # ((channel, external id), …) the person had, before they were deleted
    external_ids: frozenset

    @property
    def replacement_id(self):
        return ERASED_ID.format(number=self.member.number)

    @property
    def replacement_name(self):
        return ERASED_NAME.format(number=self.member.number)

    def person_scrub(self, person):
        """A {"id": external id, "name": …} reference to the person, rewritten; any other value as it is."""
        if isinstance(person, dict) and person.get("id") in self.external_ids:
            return {**person, "id": self.replacement_id, "name": self.replacement_name}
        return person


@dataclass(frozen=True)
class PersonalData:
    app: str
    export: Mapping[str, Callable] = field(default_factory=dict)  # section name → fn(member) → JSON-ready value
    erase: Callable[[Erasure], None] | None = None
    event_keys: frozenset = frozenset()
    merge_earliest: Mapping[str, tuple] = field(default_factory=dict)  # model label → (date field, fields it explains)


_registered: dict[str, PersonalData] = {}


def personal_data_register(entry: "PersonalData") -> "PersonalData":
    """Declare what an app holds about a person (from its AppConfig.ready()); one entry per app."""
    for other in _registered.values():
        if other.app != entry.app and set(other.export) & set(entry.export):
            raise ImproperlyConfigured(f"export sections {set(other.export) & set(entry.export)} are {other.app}'s")
    _registered[entry.app] = entry
    return entry


def personal_data() -> list["PersonalData"]:
    """The registered entries, in registration order (the apps' order in INSTALLED_APPS)."""
    return list(_registered.values())
