from siyu.core.kinds import CREATE_GROUP, KINDS, SEND_TEXT, channel_can, channel_kinds


def test_channels_answer_which_kinds_they_can_do_through_core():
    assert channel_kinds(channel="simulator") == frozenset(KINDS)
    assert channel_can(channel="matrix", kind=CREATE_GROUP)
    assert channel_can(channel="simulator", kind=SEND_TEXT)
    assert not channel_can(channel="simulator", kind=CREATE_GROUP)


def test_an_unknown_channel_can_do_nothing():
    assert channel_kinds(channel="fax") is None
    assert not channel_can(channel="fax", kind=SEND_TEXT)
