"""Who is emailed about a new chat message."""

from emailpipe.domain.models import Conversation, Message, Person, Role, Settings, Source
from emailpipe.domain.routing import recipients_for

NOW = 1_000_000.0
ONLINE = dict(online=True, last_seen=NOW - 10)
USER = Person("carol@c.example", "Carol", Role.USER)
ALICE = Person("alice@a.example", "Alice", Role.AGENT, ("Billing",), **ONLINE)
BOB = Person("bob@a.example", "Bob", Role.AGENT, ("Billing",))
OLGA = Person("olga@a.example", "Olga", Role.AGENT, ("Sales",))
ADA = Person("ada@a.example", "Ada", Role.ADMIN)
STAFF = [ALICE, BOB, OLGA, ADA]


def _message(author: Person | None, role: Role) -> Message:
    return Message("m1", "c1", author.email if author else None, role, "hi", Source.CHAT, NOW)


def _emails(routing):
    return [p.email for p in routing.recipients]


def test_a_user_message_in_a_department_goes_to_its_offline_agents_only():
    conversation = Conversation("c1", USER.email, department="Billing")

    assert _emails(recipients_for(_message(USER, Role.USER), conversation, USER, STAFF, Settings(), NOW)) == [BOB.email]


def test_a_user_message_without_a_department_goes_to_every_offline_agent_and_admin():
    conversation = Conversation("c1", USER.email)

    got = recipients_for(_message(USER, Role.USER), conversation, USER, STAFF, Settings(), NOW)

    assert _emails(got) == sorted([ADA.email, BOB.email, OLGA.email])


def test_an_agent_seen_longer_ago_than_the_offline_setting_counts_as_offline():
    stale = Person("alice@a.example", "Alice", Role.AGENT, ("Billing",), online=True, last_seen=NOW - 301)
    conversation = Conversation("c1", USER.email, department="Billing")

    got = recipients_for(_message(USER, Role.USER), conversation, USER, [stale, BOB], Settings(), NOW)

    assert _emails(got) == [stale.email, BOB.email]


def test_an_agent_answer_always_goes_to_the_user_and_never_to_its_author():
    conversation = Conversation("c1", USER.email, department="Billing")

    assert recipients_for(_message(BOB, Role.AGENT), conversation, USER, STAFF, Settings(), NOW).recipients == (USER,)


def test_the_bot_counts_as_having_answered_only_after_every_pending_user_message():
    from emailpipe.domain.routing import bot_answered, bot_is_answering

    first = Message("m1", "c1", USER.email, Role.USER, "q1", Source.CHAT, NOW)
    bot = Message("m2", "c1", None, Role.BOT, "a1", Source.BOT, NOW + 1)
    second = Message("m3", "c1", USER.email, Role.USER, "q2", Source.CHAT, NOW + 2)
    conversation = Conversation("c1", USER.email, department="Billing")

    assert bot_is_answering(conversation, Settings(human_takeover=True))
    assert not bot_is_answering(Conversation("c1", USER.email, assigned_agent=BOB.email), Settings(human_takeover=True))
    assert bot_answered([first], [first, bot, second])
    assert not bot_answered([first, second], [first, bot, second])


def test_an_assigned_agent_is_the_only_one_emailed():
    conversation = Conversation("c1", USER.email, department="Billing", assigned_agent=OLGA.email)

    assert recipients_for(_message(USER, Role.USER), conversation, USER, STAFF, Settings(), NOW).recipients == (OLGA,)


def test_a_bouncing_address_is_skipped():
    bouncing = Person("bob@a.example", "Bob", Role.AGENT, ("Billing",), bouncing=True)
    conversation = Conversation("c1", USER.email, department="Billing")

    routing = recipients_for(_message(USER, Role.USER), conversation, USER, [ALICE, bouncing], Settings(), NOW)

    assert routing.recipients == ()
    assert routing.skipped == ((bouncing, "bouncing"),)


def test_a_user_with_notifications_off_still_gets_agent_answers_but_not_after_unsubscribing():
    quiet = Person("carol@c.example", "Carol", Role.USER, email_notifications=False)
    gone = Person("carol@c.example", "Carol", Role.USER, unsubscribed=True)
    conversation = Conversation("c1", USER.email)
    answer = _message(BOB, Role.AGENT)

    assert recipients_for(answer, conversation, quiet, STAFF, Settings(), NOW).recipients == (quiet,)
    assert recipients_for(answer, conversation, gone, STAFF, Settings(), NOW).skipped == ((gone, "unsubscribed"),)


def test_an_agent_who_turned_email_notifications_off_is_not_emailed():
    quiet = Person("bob@a.example", "Bob", Role.AGENT, ("Billing",), email_notifications=False)
    conversation = Conversation("c1", USER.email, department="Billing")

    routing = recipients_for(_message(USER, Role.USER), conversation, USER, [ALICE, quiet], Settings(), NOW)

    assert routing.skipped == ((quiet, "notifications_off"),)


DANA = Person("dana@p.example", "Dana", Role.USER)


def test_an_agents_answer_goes_to_the_user_and_every_participant_but_never_to_staff_named_as_one():
    conversation = Conversation("c1", USER.email, participants=(DANA.email, OLGA.email))

    got = recipients_for(_message(BOB, Role.AGENT), conversation, USER, [], Settings(), NOW, [DANA, OLGA])

    assert _emails(got) == [USER.email, DANA.email]


def test_a_participants_message_goes_to_staff_and_not_to_the_other_participants():
    conversation = Conversation("c1", USER.email, department="Billing", participants=(DANA.email,))

    got = recipients_for(_message(DANA, Role.USER), conversation, USER, STAFF, Settings(), NOW, [DANA])

    assert _emails(got) == [BOB.email]


def test_whoever_got_a_reply_all_directly_is_not_emailed_it_again_and_the_skip_says_why():
    message = Message("m1", "c1", BOB.email, Role.AGENT, "hi", Source.EMAIL, NOW, also_to=(USER.email,))
    conversation = Conversation("c1", USER.email, participants=(DANA.email,))

    got = recipients_for(message, conversation, USER, [], Settings(), NOW, [DANA])

    assert _emails(got) == [DANA.email]
    assert [(p.email, reason) for p, reason in got.skipped] == [(USER.email, "received_directly")]
