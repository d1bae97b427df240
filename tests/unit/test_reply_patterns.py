"""The quote-header and signature patterns: what they recognise in several languages, and the near-misses they leave.

Samples are written for these tests. Every word in reply_words is also checked in a line of its kind, so a word
added for a new language is tested without a new test.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emailpipe.domain import reply_patterns as P
from emailpipe.domain import reply_words as W

_FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"

# --- Helpers ----------------------------------------------------------------------------------------------------


def test_words_puts_the_longest_word_first_escapes_it_and_lets_a_space_match_any_whitespace() -> None:
    alternation = P.words({"en": ("Re", "Reply To", "a.b")})
    assert alternation == r"Reply\s+To|a\.b|Re"
    pattern = re.compile(rf"^(?:{alternation})$", re.IGNORECASE)
    assert pattern.match("reply \t to") and pattern.match("A.B") and not pattern.match("aXb")


def test_a_lazy_pattern_compiles_on_first_use_and_then_is_the_compiled_pattern() -> None:
    built = []
    pattern = P.lazy(lambda: built.append(1) or "ab+")
    assert not built
    assert pattern.match("ABB").group() == "ABB"  # case-insensitive by default
    assert pattern.search("xab") and pattern.sub("-", "abab") == "--"
    assert built == [1]


def test_importing_the_patterns_compiles_none_of_them() -> None:
    code = (
        "import re, sys\n"
        "compiled = []\n"
        "original = re.compile\n"
        "re.compile = lambda *a, **k: compiled.append(a[0]) or original(*a, **k)\n"
        "import emailpipe.domain.reply_patterns\n"
        "print(len(compiled))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=_FUNCTIONS)
    assert out.stdout.strip() == "0"


# --- Attribution lines ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "On Wed, Apr 4, 2012 at 3:59 PM, Bob <bob@example.com> wrote:",
        "Le 5 mai 2020 à 10:00, Jean <jean@example.fr> a écrit :",
        "Am 05.05.2020 um 10:00 schrieb Hans <hans@example.de>:",
        "El 5 may 2020, a las 10:00, Ana <ana@example.es> escribió:",
        "Il giorno 5 maggio 2020, Luca <luca@example.it> ha scritto:",
        "Em 5 de maio de 2020, Rui <rui@example.pt> escreveu:",
        "Op 5 mei 2020 om 10:00 schreef Jan <jan@example.nl>:",
        "W dniu 5.05.2020 o 10:00, Piotr <piotr@example.pl> pisze:",
        "Den 5 maj 2020 kl. 10:00 skrev Sven <sven@example.se>:",
        "Στις 5/5/2020, ο Νίκος <nikos@example.gr> έγραψε:",
        "> On Monday, Bob wrote:",
        "-- On 1 Jan 2020 Bob wrote:",
    ],
)
def test_attribution_lines_open_with_a_start_word_and_hold_a_verb(line: str) -> None:
    assert P.starts_attribution(line)
    assert P.verb_end(line) is not None
    assert P.has_verb_or_sent(line)


@pytest.mark.parametrize("line", ["Once upon a time", "Online: yes", "Leider nicht", "Amazing news", "Wdniu"])
def test_a_start_word_must_be_a_whole_word(line: str) -> None:
    assert not P.starts_attribution(line)


def test_verbs_are_whole_words_and_cjk_verbs_are_found_anywhere() -> None:
    assert P.verb_end("Bob wrote: hi") == len("Bob wrote")
    assert P.verb_end("Bob rewrote the plan") is None
    assert P.verb_end("Bob wrotes") is None
    assert P.verb_end("2020年5月5日 张三<z@example.cn>写道：") is not None
    assert P.verb_end("2020/05/05 田中 <t@example.jp>のメッセージ:") is not None
    assert P.verb_end("2020. 5. 5. 오후 3:00, 김철수 님의\u3000메시지:") is not None
    assert P.starts_with_verb("wrote:") and P.starts_with_verb("napisał(a):")
    assert not P.starts_with_verb("writer:")


def test_sent_counts_as_a_verb_only_where_asked() -> None:
    line = "On 11-Apr-2011, at 6:54 PM, Roman <romant@example.com> sent:"
    assert P.has_verb_or_sent(line) and P.verb_end(line) is None
    assert P.starts_with_verb_or_sent("sent:") and not P.starts_with_verb("sent:")
    assert not P.has_verb_or_sent("I resent it")


def test_a_verb_may_end_the_line_before_dashes_and_an_android_header_is_dashed() -> None:
    assert P.ends_with_verb("------On 12/29/1987 17:32 PM, Julius Caesar wrote-----")
    assert P.ends_with_verb("Am Montag, 4. Mai 2020 um 10:00 Hans schrieb")
    assert not P.ends_with_verb("Bob wrote it")
    assert P.is_dashed_attribution("---- John Smith wrote ----")
    assert P.is_dashed_attribution("—— 张三 写道 ——")
    assert not P.is_dashed_attribution("---- John Smith wrote")
    assert not P.is_dashed_attribution("- John Smith wrote --")
    assert not P.is_dashed_attribution("-- J" + "x" * 201 + " wrote --")  # at most 200 characters before the verb


def test_a_reply_and_its_attribution_may_share_one_line() -> None:
    line = "Thanks! On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:"
    assert P.shared_line_start(line) == len("Thanks!")
    assert P.shared_line_start("ok-Le 5 mai 2020 Jean a écrit :") == 2
    assert P.shared_line_start("reply On Monday Bob wrote: see below") is None  # the verb must end the line
    assert P.shared_line_start("reply On it wrote:") is None  # 4 to 250 characters between start word and verb


# --- Outlook header blocks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("From: Bob <bob@example.com>", "from"),
        ("**From:** Bob", "from"),
        ("De : Jean Dupont", "from"),
        ("Von: Hans Müller", "from"),
        ("Da: Luca Rossi", "from"),
        ("Od: Piotr", "from"),
        ("发件人: 张三", "from"),
        ("보낸 사람: 김철수", "from"),
        ("Sent: Monday, May 4, 2020 10:00 AM", "sent"),
        ("Envoyé : lundi 4 mai 2020 10:00", "sent"),
        ("Gesendet: Montag, 4. Mai 2020", "sent"),
        ("Inviato: lunedì 4 maggio 2020", "sent"),
        ("Data: 2020-05-04", "sent"),
        ("送信日時: 2020年5月4日", "sent"),
        ("To: Alice", "to"),
        ("À : Marie", "to"),
        ("An: Team", "to"),
        ("A: Giulia", "to"),
        ("Cc: Carol", "cc"),
        ("Kopie an: Team", "cc"),
        ("Subject: Invoice", "subject"),
        ("Betreff: Rechnung", "subject"),
        ("Oggetto: Fattura", "subject"),
        ("Θέμα: Τιμολόγιο", "subject"),
        ("Importance: High", "other"),
    ],
)
def test_header_fields_are_recognised_with_their_kind(line: str, kind: str) -> None:
    assert P.field_kind(line) == kind
    assert P.FIELD_RE.match(line)


@pytest.mark.parametrize("line", ["Fromage: yes", "From the desk of Bob:", "Dear Bob:", "Sent from my iPhone", "To do"])
def test_lines_that_only_look_like_header_fields_are_not_fields(line: str) -> None:
    assert P.field_kind(line) is None


def test_a_header_rendered_on_one_line_names_its_other_fields_inside_it() -> None:
    assert P.has_inline_field("From: bob@example.com Date: Thu, 24 Mar 2016 10:00")
    assert P.has_inline_field("Von: Hans *Gesendet:* Montag")
    assert not P.has_inline_field("From: bob@example.com about the update:")


def _kinds() -> list[tuple[str, str]]:
    """Every header field name in reply_words with the kind the pattern gives it (the first kind that has it)."""
    seen: dict[str, str] = {}
    for kind, names in (
        ("from", W.HEADER_FROM),
        ("sent", W.HEADER_SENT),
        ("to", W.HEADER_TO),
        ("cc", W.HEADER_CC),
        ("subject", W.HEADER_SUBJECT),
        ("other", W.HEADER_OTHER),
    ):
        for name in W.every(names):
            seen.setdefault(name.casefold(), kind)
    return sorted(seen.items())


@pytest.mark.parametrize(("name", "kind"), _kinds())
def test_every_header_field_name_in_the_word_lists_is_recognised(name: str, kind: str) -> None:
    assert P.field_kind(f"{name}: x") == kind
    assert P.field_kind(f"  {name.upper()} ： x") == kind


# --- Separators -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "-----Original Message-----",
        "----- Ursprüngliche Nachricht -----",
        "-------- Message d'origine --------",
        "___ Messaggio originale ___",
        "*** Исходное сообщение ***",
        "-----原始邮件-----",
        "Original Message:",
    ],
)
def test_original_message_separators_in_many_languages(line: str) -> None:
    assert P.is_original_message(line)


@pytest.mark.parametrize(
    "line",
    [
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
        ">> Weitergeleitete Nachricht:",
        "-------- Message transféré --------",
        "Inizio messaggio inoltrato:",
        "---- Videresendt melding ----",
    ],
)
def test_forwarded_message_separators_in_many_languages(line: str) -> None:
    assert P.is_forward_marker(line) and P.FORWARDED_RE.match(line)


@pytest.mark.parametrize(
    "line",
    ["Original message follows below", "-----Original Message----- from Bob", "Forwarded messages", "Forward it"],
)
def test_a_separator_phrase_inside_a_sentence_is_no_separator(line: str) -> None:
    assert not P.is_original_message(line) and not P.is_forward_marker(line)


@pytest.mark.parametrize("phrase", W.every(W.ORIGINAL_MESSAGE))
def test_every_original_message_phrase_is_recognised(phrase: str) -> None:
    assert P.is_original_message(f"-----{phrase}-----") and P.is_original_message(f" {phrase.upper()}:")


@pytest.mark.parametrize("phrase", W.every(W.FORWARDED_MESSAGE))
def test_every_forwarded_message_phrase_is_recognised(phrase: str) -> None:
    assert P.is_forward_marker(f"---------- {phrase} ---------") and P.is_forward_marker(f"{phrase}:")


def test_rules_are_separators() -> None:
    assert P.is_separator("________________________________") and P.is_separator("- - -") and P.is_separator("--")
    assert P.is_separator(f"  {P.HR_MARK} ")
    assert not P.is_separator("-") and not P.is_separator("-- x")
    assert P.is_long_separator("________") and P.is_long_separator("--------") and P.is_long_separator(P.HR_MARK)
    assert not P.is_long_separator("_______") and not P.is_long_separator("----____")
    assert P.is_sig_separator("---") and P.is_sig_separator("==========") and not P.is_sig_separator("=========")


# --- Subject prefixes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject", ["Fwd: Invoice", "FW: RE: Invoice", "WG: Rechnung", "[EXTERNAL] TR: Facture", "I: Fattura", "[Fwd: x]"]
)
def test_forward_subjects(subject: str) -> None:
    assert P.is_forward_subject(subject)


@pytest.mark.parametrize("subject", ["RE: Fwd: Invoice", "AW: WG: Rechnung", "Fwdx: no", "Invoice", "", None])
def test_subjects_whose_outermost_prefix_is_not_a_forward(subject: str | None) -> None:
    assert not P.is_forward_subject(subject)


def test_strip_subject_prefixes_removes_reply_and_forward_prefixes_and_tags() -> None:
    assert P.strip_subject_prefixes("RE: AW: Fwd: Invoice 42") == "Invoice 42"
    assert P.strip_subject_prefixes("[EXT] Re[2]: Odp: Ynt: Hello") == "Hello"
    assert P.strip_subject_prefixes("回复: 发票") == "发票"
    assert P.strip_subject_prefixes("[Fwd: Broken widget]") == "Broken widget"
    assert P.strip_subject_prefixes("Report: Q3") == "Report: Q3"  # "Re" must be the whole word


@pytest.mark.parametrize("prefix", W.every(W.SUBJECT_FORWARD_PREFIXES))
def test_every_forward_prefix_is_recognised(prefix: str) -> None:
    assert P.is_forward_subject(f"{prefix}: hello") and P.strip_subject_prefixes(f"{prefix}: hello") == "hello"


@pytest.mark.parametrize("prefix", W.every(W.SUBJECT_REPLY_PREFIXES))
def test_every_reply_prefix_is_stripped_and_is_no_forward(prefix: str) -> None:
    assert not P.is_forward_subject(f"{prefix}: hello") and P.strip_subject_prefixes(f"{prefix}: hello") == "hello"


# --- Signatures -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy S21 Ultra 5G!",
        "Sent with the Gmail app on Android",
        "Get Outlook for iOS",
        "Envoyé de mon iPhone",
        "Envoyé à partir de Outlook",
        "Von meinem iPhone gesendet",
        "Gesendet von Outlook für Android",
        "Enviado desde mi iPhone",
        "Enviado do meu iPhone",
        "Inviato da iPhone",
        "Verzonden met mijn iPad",
        "Wysłane z iPhone'a",
        "Отправлено с iPhone",
        "Skickat från min iPhone",
        "Sendt fra min iPhone",
        "Lähetetty iPhonesta",
        "Odesláno z iPhonu",
        "iPhone'dan gönderildi",
        "Trimis de pe iPhone",
    ],
)
def test_mobile_footers_in_many_languages(line: str) -> None:
    assert P.is_mobile_footer(f"  {line}  ")


@pytest.mark.parametrize(
    "line", ["从我的iPhone发送", "发自我的iPhone", "iPhoneから送信", "Android에서 보냄", "发自 QQ 邮箱。"]
)
def test_cjk_mobile_footers(line: str) -> None:
    assert P.is_cjk_mobile_footer(line)


@pytest.mark.parametrize(
    "line",
    [
        "I sent from my iPhone yesterday",
        "Sent from my iPhone while I was waiting for the train to arrive at the station this morning",
        "The report was sent from my office",
        "Gesendet",
        "Inviato",
    ],
)
def test_sentences_about_sending_are_no_mobile_footers(line: str) -> None:
    assert not P.is_mobile_footer(line) and not P.is_cjk_mobile_footer(line)


def test_disclaimers_open_with_their_phrase_and_need_legal_words() -> None:
    assert P.is_disclaimer("CONFIDENTIALITY NOTICE: This email is private")
    assert P.is_disclaimer("**Disclaimer:**")
    assert P.is_disclaimer("Ce message et ses pièces jointes sont confidentiels")
    assert P.is_disclaimer("Diese E-Mail enthält vertrauliche Informationen")
    assert P.is_disclaimer("Questo messaggio è riservato")
    assert not P.is_disclaimer("Please find the confidential report attached")
    assert not P.is_disclaimer("This message is about lunch")
    assert P.has_legal_words("If you are not the intended recipient") and P.has_legal_words("Vertraulich!")
    assert not P.has_legal_words("See you at lunch")


def test_list_items_and_dash_names() -> None:
    assert P.is_list_item("1. first") and P.is_list_item("- item") and P.is_list_item("• item")
    assert not P.is_list_item("1000. no") and not P.is_list_item("-item")
    assert P.DASH_NAME_RE.match("-Abhishek Kona") and P.DASH_NAME_RE.match("- roman")
    assert not P.DASH_NAME_RE.match("- a list item that is long")


# --- Hostile input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        " " * P.MAX_LINE,
        "-" * P.MAX_LINE,
        ("On " + " " * 20) * 40,
        (" On a " + "wrote " * 20) * 8,
        "---- " + "wrote " * 160,
        "wrote" + " " * 990 + "x",
        "From" + " " * 990 + "x",
        "Sent from my " + "x " * 490,
        "envoyé de " + " " * 900 + "x",
        "[" * 300 + "Re: " * 150,
    ],
)
def test_patterns_stay_fast_on_hostile_lines(line: str) -> None:
    line = line[: P.MAX_LINE]
    start = time.process_time()
    for _ in range(3):
        P.starts_attribution(line)
        P.verb_end(line)
        P.has_verb_or_sent(line)
        P.ends_with_verb(line)
        P.is_dashed_attribution(line)
        P.shared_line_start(line + ":")
        P.field_kind(line)
        P.has_inline_field(line + ":")
        P.is_original_message(line)
        P.is_forward_marker(line)
        P.is_separator(line)
        P.is_mobile_footer(line[:300])
        P.is_cjk_mobile_footer(line[:300])
        P.is_disclaimer(line[:300])
        P.strip_subject_prefixes(line)
    assert time.process_time() - start < 1.0
