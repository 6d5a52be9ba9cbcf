"""What links hold about a person (members.personal), registered in LinksConfig.ready()."""
from siyu.members.personal import PersonalData

PERSONAL_DATA = PersonalData(
    app="links",
    event_keys=frozenset({"ua", "ip", "referer"}),  # a click's browser, address and referring page
    merge_earliest={"links.LinkReach": ("first_at", ())},
)
