"""Reply tokens: unguessable, signed, bound to one recipient, rollable."""

from emailpipe.domain import tokens

KEY = b"k" * 32
OLD = b"o" * 32


def test_a_token_verifies_only_for_the_address_it_was_sent_to():
    token = tokens.make_token([KEY], "abcdefghijkl", "bob@agents.example")

    assert tokens.verify_token([KEY], token, "bob@agents.example")
    assert tokens.verify_token([KEY], token, "  BOB@Agents.Example ")
    assert not tokens.verify_token([KEY], token, "olga@agents.example")


def test_a_token_for_another_conversation_does_not_verify():
    token = tokens.make_token([KEY], "abcdefghijkl", "bob@agents.example")
    forged = "zzzzzzzzzzzz" + token[12:]

    assert not tokens.verify_token([KEY], forged, "bob@agents.example")


def test_tokens_signed_with_the_previous_key_keep_working_during_a_rotation():
    token = tokens.make_token([OLD], "abcdefghijkl", "bob@agents.example")

    assert tokens.verify_token([KEY, OLD], token, "bob@agents.example")
    assert not tokens.verify_token([KEY], token, "bob@agents.example")


def test_the_token_is_found_in_display_name_plus_address_and_message_id():
    token = tokens.make_token([KEY], tokens.new_conversation_id(), "carol@customer.example")

    assert tokens.find_token(tokens.display_name("AiX", token)) == token
    assert (
        tokens.token_from_plus_address(tokens.plus_address("support@example.com", token), "support@example.com")
        == token
    )
    assert tokens.find_token(tokens.message_id(token, "example.com")) == token
    assert tokens.token_from_plus_address(f"other+{token}@example.com", "support@example.com") is None


def test_conversation_ids_are_random_and_in_the_token_alphabet():
    ids = {tokens.new_conversation_id() for _ in range(1000)}

    assert len(ids) == 1000
    assert all(tokens.TOKEN_PATTERN.fullmatch(i + "a" * tokens.SIGNATURE_LENGTH) for i in ids)
