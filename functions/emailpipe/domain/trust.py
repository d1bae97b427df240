"""Trust rules for inbound mail: which authentication verdicts to believe, and which mail a machine sent (pure).

Which copy of a verdict header is trusted
-----------------------------------------
Anyone can write `Authentication-Results: amazonses.com; dmarc=pass` or `X-SES-Spam-Verdict: PASS` into the
message they send, so a verdict is believed only where the receiving service itself wrote it.

SES ingress (`ses=True`). SES prepends one block to the stored message, above every header the sender wrote,
always in this shape (taken from real stored mail)::

    Return-Path: <envelope sender>
    Received: from <helo> (<rdns> [<ip>]) by inbound-smtp.<region>.amazonaws.com with SMTP id <id> ...
    X-SES-Spam-Verdict: PASS
    X-SES-Virus-Verdict: PASS
    Received-SPF: pass (spfCheck: ...) client-ip=...; envelope-from=...; helo=...;
    Authentication-Results: amazonses.com; spf=pass (...) ...; dkim=pass header.i=@...; dmarc=pass header.from=...;
    X-SES-RECEIPT: <base64>
    X-SES-DKIM-SIGNATURE: a=rsa-sha256; ... d=amazonses.com; ...

The trusted SES block is the run of headers from the very first one that (1) only has names from that list,
(2) holds at most one Received header, (3) repeats no name, and (4) ends at the latest with X-SES-RECEIPT and an
X-SES-DKIM-SIGNATURE directly after it. The first header breaking any of these rules, and everything below it,
is the sender's. The block counts only if its Received header is SES's own (`by inbound-smtp.<region>
.amazonaws.com`); otherwise nothing is trusted (source None). Inside the block the Authentication-Results
whose authserv-id is in `trusted_authserv_ids` gives spf/dkim/dmarc (Received-SPF fills in spf when it lacks
one) and X-SES-Spam-Verdict / X-SES-Virus-Verdict give spam/virus. Hence a forged copy below SES's block is
never read, whether or not SES wrote its own copy.

Mailbox ingress (`ses=False`, IMAP/POP3). The provider (Gmail, Fastmail, ...) prepends its own
Authentication-Results above the message, so the topmost Authentication-Results whose authserv-id is one of
`trusted_authserv_ids` (e.g. "mx.google.com") is trusted and every later one ignored. There is no fixed block
to bound it, so this relies on the provider always adding its own copy; a provider whose header carries no
authserv-id (Exchange Online writes `Authentication-Results: spf=pass ...`) cannot be trusted this way.
X-SES-* headers are never trusted in mailbox mail (an upstream SES hop or the sender wrote them).

Within one trusted Authentication-Results, a method given twice (possible when SES copies a sender-chosen HELO
or From domain into the header) keeps its least favourable result for spf and dmarc; dkim is pass when any
signature passed, since several signatures are normal.

Alignment
---------
A verdict is about one domain: SPF about the envelope sender (MAIL FROM, or HELO when that is empty), DKIM about
each signature's `d=`, DMARC about the From domain it evaluated (`header.from`). Given the From domain
(`trusted_verdicts(..., from_domain=...)`), a pass counts only when it is about that domain as DMARC's relaxed
alignment defines it: the same organizational domain (`organizational_domain`: the last two labels, or three under
a short second-level suffix such as co.uk or com.au; no public-suffix list is shipped). A DMARC pass must name the
From domain itself. A pass for another domain reads "unaligned" and counts as no pass: it is what an attacker gets
by sending from their own domain. Failures count whatever domain they name.

Decisions (`verdict_outcome`): DMARC fail rejects (`dmarc_fail`), a virus rejects (`virus`); with
`require_authentication` anything short of `authenticated` rejects (`authentication_required`); SPF fail with no
DKIM pass of the From domain, for a From domain without a DMARC result, is quarantined (`spf_dkim_fail`); spam is
quarantined (`spam`). `authenticated` is a DMARC pass for the From domain or, without one, aligned SPF and DKIM
passes together. Staff replies need `authenticated` whenever a trusted verdict exists (`staff_reply_outcome`).

Machine mail
------------
`machine_mail_reason` returns the first matching reason code, in this order: "bounce", "report",
"auto_submitted", "autoreply_header", "precedence_bulk", "out_of_office", "null_return_path"; None for mail a
person wrote. Mailing-list headers (List-Id, List-Unsubscribe) are deliberately not a reason: a group or list
relays people's own replies with them (Google Groups adds both to every post), and bulk senders are caught by
Precedence instead. X-Auto-Response-Suppress is not a reason either: it asks recipients not to auto-reply and
is set on ordinary mail (including by Outlook and by ticketing systems).

`bounced_recipients` reads the failed recipients of a bounce. A bounce can be forged like any other mail, so it
counts only when it refers to a notification the pipeline sent to that recipient: `bounce_references` returns the
Message-IDs at our domain and the reply tokens it quotes (In-Reply-To, References, the returned message or headers,
the report's text), and the caller checks them against what was sent. A bounce whose authentication failed
(`authentication_failed`) never counts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from emailpipe.domain import reply_words as W
from emailpipe.domain import tokens
from emailpipe.domain.reply_patterns import lazy, words
from emailpipe.records import Record

if TYPE_CHECKING:
    from emailpipe.mail.parse import ParsedEmail

Headers = Sequence[tuple[str, str]]

SES_AUTHSERV_ID = "amazonses.com"

# The headers SES prepends to stored inbound mail, top to bottom.
_SES_BLOCK_NAMES = frozenset(
    {
        "return-path",
        "received",
        "x-ses-spam-verdict",
        "x-ses-virus-verdict",
        "received-spf",
        "authentication-results",
        "x-ses-receipt",
        "x-ses-dkim-signature",
    }
)
_SES_RECEIVED = re.compile(r"\bby\s+inbound-smtp\.[a-z0-9-]+\.amazonaws\.com\b", re.IGNORECASE)
_WS = re.compile(r"\s+")
_RESINFO = re.compile(r"^\s*([a-z0-9_-]+)\s*(?:/\s*\d+\s*)?=\s*([a-z_-]+)\s*(?:\s|$)", re.IGNORECASE)
_PROPERTY = re.compile(r"([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?)\s*=\s*(\"[^\"]*\"|[^\s;]+)")
# Authentication-Results methods other than spf/dkim/dmarc (RFC 8601 registry): properties after them are theirs.
_METHOD_WORDS = frozenset({"auth", "iprev", "arc", "bimi", "dkim-adsp", "domainkeys", "sender-id", "vbr", "x-ptr"})
_FIRST_WORD = re.compile(r"[a-z_-]+", re.IGNORECASE)
# Lower is worse; a method reported twice keeps its worst result (see module docstring).
_RESULT_RANK = {
    "fail": 0,
    "hardfail": 0,
    "permerror": 1,
    "softfail": 2,
    "temperror": 3,
    "neutral": 4,
    "policy": 5,
    "gray": 6,
    "processing_failed": 6,
    "none": 7,
    "pass": 8,
}


@dataclass(frozen=True, repr=False, eq=False)
class Verdicts(Record):
    """Authentication, spam and virus verdicts from a trusted copy; None where no trusted copy says."""

    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    spam: str | None = None
    virus: str | None = None
    source: str | None = None


UNTRUSTED = Verdicts()


def _lower_name(name: str) -> str:
    return name.strip().lower()


def _clean(value: str) -> str:
    """Collapse whitespace, folds included, to single spaces."""
    return _WS.sub(" ", value).strip()


def strip_comments(value: str) -> str:
    """Remove RFC 5322 comments (nested parentheses, outside quoted strings) from a header value."""
    if "(" not in value:
        return value
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if not depth:
                out.append(" ")
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return "".join(out)


def _resinfos(value: str) -> tuple[str | None, list[tuple[str, str, dict[str, str]]]]:
    """Return (authserv-id or None, [(method, result, {property: value})]) for spf, dkim and dmarc, in order.

    Properties are `ptype.property=value` pairs after the result (`smtp.mailfrom=`, `header.d=`, `header.from=`)
    and SES's own `envelope-from=` / `helo=`, which SES writes as separate `;`-segments after its spf result.
    """
    segments = strip_comments(_clean(value)).split(";")
    head = segments[0].strip()
    if not head or "=" in head:
        # No authserv-id (Exchange Online's form): it names no service we could trust.
        return None, []
    authserv_id = head.split()[0].strip('"').lower()
    found_methods: list[tuple[str, str, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for segment in segments[1:]:
        found = _RESINFO.match(segment)
        method = _group(segment, found, 1).lower() if found else ""
        if found and method in ("spf", "dkim", "dmarc"):
            current = {}
            found_methods.append((method, _group(segment, found, 2).lower(), current))
            rest = segment[found.end() :]
        elif found and method in _METHOD_WORDS:
            current = None  # another method (auth, iprev, arc, ...): its properties are not ours
            continue
        else:
            rest = segment
        if current is not None and "=" in rest:
            for prop in _PROPERTY.finditer(rest):
                current.setdefault(prop.group(1).lower(), prop.group(2).strip('"'))
    return authserv_id, found_methods


def parse_authentication_results(value: str) -> tuple[str | None, dict[str, str]]:
    """Return (authserv-id lower-cased or None when absent, {method: result}) of one Authentication-Results."""
    authserv_id, found_methods = _resinfos(value)
    if authserv_id is None:
        return None, {}
    return authserv_id, _combine(found_methods)


def _combine(found_methods: Iterable[tuple[str, str, dict[str, str]]]) -> dict[str, str]:
    results: dict[str, str] = {}
    for method, result, _ in found_methods:
        previous = results.get(method)
        if previous is None:
            results[method] = result
        elif method == "dkim":
            results[method] = "pass" if "pass" in (previous, result) else previous
        elif _RESULT_RANK.get(result, 5) < _RESULT_RANK.get(previous, 5):
            results[method] = result
    return results


def _group(text: str, found: re.Match[str], group: int) -> str:
    """Return the text of a group matched in text."""
    return text[found.start(group) : found.end(group)]


def _first_word(value: str) -> str | None:
    text = strip_comments(value)
    found = _FIRST_WORD.search(text)
    return _group(text, found, 0).lower() if found else None


def ses_block(headers: Headers) -> tuple[tuple[str, str], ...]:
    """Return the headers SES prepended (see the module docstring), or () when the top is not SES's block."""
    block: list[tuple[str, str]] = []
    seen: set[str] = set()
    after_receipt = False
    for name, value in headers:
        key = _lower_name(name)
        if key not in _SES_BLOCK_NAMES or key in seen:
            break
        if after_receipt and key != "x-ses-dkim-signature":
            break
        seen.add(key)
        block.append((name, value))
        if key == "x-ses-dkim-signature" and after_receipt:
            break
        after_receipt = after_receipt or key == "x-ses-receipt"
    received = [value for name, value in block if _lower_name(name) == "received"]
    if not received or not _SES_RECEIVED.search(_clean(received[0])):
        return ()
    return tuple(block)


def trusted_verdicts(
    headers: Headers,
    *,
    trusted_authserv_ids: tuple[str, ...] = (SES_AUTHSERV_ID,),
    ses: bool = True,
    from_domain: str | None = None,
) -> Verdicts:
    """Return the verdicts of the trusted copies only (rule in the module docstring); source None if none.

    With `from_domain` (the domain of the From address), a pass counts only for that domain (see "Alignment" in the
    module docstring): a pass for another domain reads "unaligned".
    """
    trusted = {authserv_id.lower() for authserv_id in trusted_authserv_ids}
    scope = ses_block(headers) if ses else tuple(headers)
    found_methods: list[tuple[str, str, dict[str, str]]] | None = None
    spam = virus = received_spf = None
    received_spf_props: dict[str, str] = {}
    for name, value in scope:
        key = _lower_name(name)
        if key == "authentication-results" and found_methods is None:
            authserv_id, parsed = _resinfos(value)
            if authserv_id in trusted:
                found_methods = parsed
                if not ses:
                    break
        elif ses and key == "x-ses-spam-verdict":
            spam = _first_word(value)
        elif ses and key == "x-ses-virus-verdict":
            virus = _first_word(value)
        elif ses and key == "received-spf":
            received_spf = _first_word(value)
            received_spf_props = {m.group(1).lower(): m.group(2).strip('"') for m in _PROPERTY.finditer(value)}
    found_methods = found_methods or []
    if from_domain is not None:
        found_methods = [_aligned(entry, from_domain) for entry in found_methods]
        if received_spf == "pass" and not aligned(_spf_domain(received_spf_props), from_domain):
            received_spf = UNALIGNED
    results = _combine(found_methods)
    spf = results.get("spf") or received_spf
    dkim, dmarc = results.get("dkim"), results.get("dmarc")
    if not any((spf, dkim, dmarc, spam, virus)):
        return UNTRUSTED
    return Verdicts(spf=spf, dkim=dkim, dmarc=dmarc, spam=spam, virus=virus, source="ses" if ses else "mailbox")


def verdict_outcome(v: Verdicts, *, quarantine_spam: bool = True, require_pass: bool = False) -> tuple[str, str] | None:
    """Return None to accept, else (status, reason): rejections first, then the quarantines."""
    if v.dmarc == "fail":
        return ("rejected", "dmarc_fail")
    if v.virus == "fail":
        return ("rejected", "virus")
    if require_pass and not authenticated(v):
        return ("rejected", "authentication_required")
    if spf_and_dkim_failed(v):
        return ("quarantined", "spf_dkim_fail")
    if quarantine_spam and v.spam == "fail":
        return ("quarantined", "spam")
    return None


def authenticated(v: Verdicts) -> bool:
    """True when a trusted copy says DMARC passed or, for a domain without DMARC, both SPF and DKIM passed."""
    if v.source is None:
        return False
    if v.dmarc == "pass":
        return True
    # dmarc=none means the domain publishes no DMARC policy: fall back to SPF and DKIM together. A DMARC pass for
    # another domain than the From's says nothing about the From, so it falls back the same way.
    return v.dmarc in _NO_DMARC and v.spf == "pass" and v.dkim == "pass"


def spf_and_dkim_failed(v: Verdicts) -> bool:
    """True when the From domain has no DMARC result, SPF failed and no DKIM signature of the From domain passed."""
    return v.source is not None and v.dmarc in _NO_DMARC and v.spf in ("fail", "hardfail") and v.dkim != "pass"


def sender_unproven(v: Verdicts) -> bool:
    """True when a trusted verdict points at a forged From: no DMARC pass, SPF failed or softfailed, no DKIM pass.

    A reply token proves the mail answers a notification, not who wrote it: whoever saw the token (a Cc of the
    user's reply carries it in the plus-address) could forge the user's From. Such mail is quarantined, not posted.
    """
    return v.source is not None and v.dmarc != "pass" and v.spf in ("fail", "hardfail", "softfail") and v.dkim != "pass"


def authentication_failed(v: Verdicts) -> bool:
    """True when a trusted verdict says the mail is not from whom it claims: DMARC fail, or SPF and DKIM fail."""
    return v.dmarc == "fail" or spf_and_dkim_failed(v)


# --- alignment ---------------------------------------------------------------------------------------------------

UNALIGNED = "unaligned"
_NO_DMARC = (None, "none", UNALIGNED)
# Second-level labels under which registrations happen one level deeper (example.co.uk): the common ones, so that
# co.uk is never taken for an organisation. Without a public-suffix list this errs towards a larger organisation
# for rarer suffixes (a.pvt.k12.ma.us and b.pvt.k12.ma.us both count as k12.ma.us), never towards a smaller one.
_SHORT_SUFFIX_LABELS = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "mil", "ltd"})
_SHORT_SUFFIX_LABELS |= frozenset({"plc", "sch", "nhs", "police", "gob", "gv", "nic", "govt", "nom", "gen", "biz"})


def organizational_domain(domain: str) -> str:
    """The registrable domain DMARC's relaxed alignment compares: the last two labels, or three under co.uk & co.

    A simplification of the public-suffix rule (no list is shipped): when the second-to-last label is one of the
    short suffix labels above and the top-level label has two letters (a country: co.uk, com.au, co.jp, ac.nz), the
    organisation is the last three labels; otherwise the last two.
    """
    labels = [label for label in domain.strip().strip(".").lower().split(".") if label]
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SHORT_SUFFIX_LABELS:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def aligned(identity_domain: str | None, from_domain: str) -> bool:
    """DMARC relaxed alignment: both domains have the same organizational domain."""
    if not identity_domain or not from_domain:
        return False
    return organizational_domain(identity_domain) == organizational_domain(from_domain)


def _domain_of(value: str | None) -> str | None:
    if not value:
        return None
    domain = value.strip().strip("<>").rpartition("@")[2].strip().strip(".").lower()
    return domain or None


def _spf_domain(props: dict[str, str]) -> str | None:
    # DMARC aligns SPF on the MAIL FROM domain; the HELO identity counts only when MAIL FROM is empty.
    mail_from = props.get("smtp.mailfrom") or props.get("envelope-from")
    if mail_from and mail_from.strip("<>"):
        return _domain_of(mail_from)
    return _domain_of(props.get("smtp.helo") or props.get("helo"))


def _aligned(entry: tuple[str, str, dict[str, str]], from_domain: str) -> tuple[str, str, dict[str, str]]:
    """One method result, with a pass for another domain than the From's turned into UNALIGNED."""
    method, result, props = entry
    if result != "pass":
        return entry
    if method == "spf":
        ok = aligned(_spf_domain(props), from_domain)
    elif method == "dkim":
        ok = aligned(_domain_of(props.get("header.d") or props.get("header.i")), from_domain)
    else:
        # DMARC evaluates the From domain itself: its header.from must be that domain, not just its organisation.
        ok = _domain_of(props.get("header.from")) == from_domain.strip().strip(".").lower()
    return entry if ok else (method, UNALIGNED, props)


def domain_listed(domain: str, listed: str) -> bool:
    """True when `domain` is one of the comma-separated domains in `listed`, or a subdomain of one."""
    domain = domain.strip().strip(".").lower()
    for entry in listed.split(","):
        entry = entry.strip().strip(".").lower()
        if entry and (domain == entry or domain.endswith("." + entry)):
            return True
    return False


def staff_reply_outcome(v: Verdicts, from_domain: str, unauthenticated_domains: str = "") -> str | None:
    """None when a staff member's email may post, else the reason code: it needs an aligned pass by default.

    Posting as staff makes the support address email the customer in that person's name. Mail without any trusted
    verdict (hand-fed mail, a mailbox whose provider's authserv-id is not configured) is left to the
    `require_authentication` setting, since nothing could be checked; `unauthenticated_domains` lists the staff
    domains whose mail is accepted without a pass.
    """
    if v.source is None or authenticated(v) or domain_listed(from_domain, unauthenticated_domains):
        return None
    return "staff_not_authenticated"


# --- machine mail -----------------------------------------------------------------------------------------------
#
# Subject phrases come from reply_words and are compiled, on the first subject checked, into case-insensitive
# alternations. A subject starts with a phrase when the phrase is followed by an end: only whitespace, or (after
# optional whitespace) punctuation that ends a subject prefix. "?" is absent on purpose: "Out of office?" is somebody
# asking.
_END_CHARS = frozenset(":：-–—|/([（【)]）】,，.。!！;»>")
_END = r"\s*+(?:[" + "".join(map(re.escape, sorted(_END_CHARS))) + r"]|\Z)"
# Reply prefixes an auto-responder may put first ("Re: Automatic reply: ..."); forwards are not stripped, since a
# person forwarding an auto-reply or a bounce to support is writing to us. One prefix is a word, an optional
# counter ("[2]", "(2)") and a colon.
_REPLY_PREFIX = lazy(lambda: rf"\s*(?:{words(W.AUTO_REPLY_SUBJECT_PREFIXES)})\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*")
# An out-of-office phrase may be bracketed: "[Out of office]", "【自動返信】".
_OOO_PHRASE = lazy(lambda: rf"[\[(（【]?\s*+(?:{words(W.OUT_OF_OFFICE_SUBJECTS)}){_END}")
# English "Out of office until Monday": a few continuation words, or a digit, are allowed, but never a question.
_OOO_CONTINUED = lazy(
    lambda: (
        r"[\[(]?\s*(?:out of|away from) (?:the )?office\s+"
        r"(?:until|till|til|from|through|thru|back|returning|today|this|next|on|\d)(?!\w)"
    )
)
# Lotus Notes: "Jane Doe is out of the office (returning 05/05/2025)".
_OOO_NOTES = re.compile(r"\bis (?:currently )?out of (?:the )?office", re.IGNORECASE)
_BOUNCE_PHRASE = lazy(lambda: rf"(?:{words(W.BOUNCE_SUBJECTS)}){_END}")
_BOUNCE_LOCALPARTS = frozenset({"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster"})
# Exchange sends its non-delivery reports from MicrosoftExchange<32 hex digits>@<domain>.
_EXCHANGE_NDR_SENDER = re.compile(r"^microsoftexchange[0-9a-f]{32}$", re.IGNORECASE)
_PARAM = re.compile(r';\s*([a-z0-9_.-]+)\s*=\s*(?:"([^"]*)"|([^;\s]*))', re.IGNORECASE)


def _values(headers: Headers, name: str) -> list[str]:
    return [_clean(value) for key, value in headers if _lower_name(key) == name]


def _first(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if _lower_name(key) == name:
            return _clean(value)
    return None


def _normalise_subject(subject: str) -> str:
    return _clean(unicodedata.normalize("NFC", subject or ""))


def _strip_reply_prefixes(text: str) -> str:
    """Remove the leading run of reply prefixes ("RE: AW: ")."""
    end = 0
    while found := _REPLY_PREFIX.match(text, end):
        end = found.end()
    return text[end:]


def _phrase_ends(text: str, end: int) -> bool:
    """True when text[end:] is, after optional whitespace, empty or starts with one of _END_CHARS."""
    rest = text[end:].lstrip()
    return not rest or rest[0] in _END_CHARS


def _ooo_notes(text: str) -> bool:
    # As the former `^[^?:]{1,80}?\bis ... office(?=end)[^?]*$`: the phrase starts at a word boundary after 1 to 80
    # characters without ":", is followed by an end, and the subject has no "?".
    colon = text.find(":")
    last = 80 if colon < 0 else min(colon, 80)
    return any(1 <= m.start() <= last and _phrase_ends(text, m.end()) for m in _OOO_NOTES.finditer(text))


def is_out_of_office_subject(subject: str) -> bool:
    """True when the subject starts (after reply prefixes) with an out-of-office or auto-reply phrase."""
    text = _strip_reply_prefixes(_normalise_subject(subject))
    if _OOO_PHRASE.match(text):
        return True
    return "?" not in text and bool(_OOO_CONTINUED.match(text) or _ooo_notes(text))


def is_bounce_subject(subject: str) -> bool:
    """True when the subject starts with a delivery-failure phrase; "Re: Undeliverable" is a person replying."""
    return _BOUNCE_PHRASE.match(_normalise_subject(subject)) is not None


def _content_type(headers: Headers, content_type: str | None) -> tuple[str, dict[str, str]]:
    """Return (type lower-cased, params) from the given value, taking missing params from the header."""
    header = _first(headers, "content-type") or ""
    value = _clean(strip_comments(content_type or header))
    ctype = value.split(";", 1)[0].strip().lower()
    params = {
        _group(value, m, 1).lower(): _group(value, m, 2 if m.group(2) is not None else 3)
        for m in _PARAM.finditer(value)
    }
    if not params and content_type and header:
        header_type, header_params = _content_type(headers, None)
        if header_type == ctype:
            params = header_params
    return ctype, params


def _sender_localpart(sender: str | None) -> str:
    if not sender:
        return ""
    sender = sender.strip().strip("<>")
    local, at, _ = sender.rpartition("@")
    return (local if at else sender).strip('"').lower()


def _is_bounce(headers: Headers, subject: str, sender: str | None, ctype: str, params: dict[str, str]) -> bool:
    if ctype == "multipart/report" and params.get("report-type", "delivery-status").lower() == "delivery-status":
        # A report without a report-type is nearly always a DSN.
        return True
    local = _sender_localpart(sender)
    if local in _BOUNCE_LOCALPARTS or _EXCHANGE_NDR_SENDER.match(local):
        return True
    if _values(headers, "x-failed-recipients") or _values(headers, "x-ms-exchange-message-is-ndr"):
        return True
    return is_bounce_subject(subject)


def _autoreply_header(headers: Headers) -> bool:
    for key, value in headers:
        key = _lower_name(key)
        word = _first_word(value) or ""
        if key in ("x-autoreply", "x-auto-reply") and word not in ("no", "false"):
            return True
        if key in ("x-autorespond", "x-autoreply-from", "x-mail-autoreply", "x-ms-exchange-generated-message-source"):
            # Exchange writes the last for mail its agents generate (inbox-rule replies, journal reports).
            return True
        if key == "x-autogenerated" and word == "reply":
            return True
        if key == "x-post-messageclass" and "autoresponder" in value.lower():
            return True
        if key == "x-fc-machinegenerated" and word == "true":
            return True
        if key == "precedence" and word == "auto_reply":
            return True
    return False


def machine_mail_reason(
    headers: Headers, subject: str, sender: str | None, content_type: str | None = None
) -> str | None:
    """Return why the mail is machine-sent (reason codes in the module docstring), or None for a person's mail."""
    ctype, params = _content_type(headers, content_type)
    if _is_bounce(headers, subject, sender, ctype, params):
        return "bounce"
    if ctype == "multipart/report":
        # Read receipts (disposition-notification), abuse feedback and TLS reports: nobody typed them.
        return "report"
    for value in _values(headers, "auto-submitted"):
        word = _first_word(value)
        if word and word != "no":
            return "auto_submitted"
    if _autoreply_header(headers):
        return "autoreply_header"
    if any(_first_word(value) in ("bulk", "junk", "list") for value in _values(headers, "precedence")):
        return "precedence_bulk"
    if is_out_of_office_subject(subject):
        return "out_of_office"
    # The topmost Return-Path is written by the receiving server from MAIL FROM; "<>" is how bounces and
    # RFC 3834 auto-replies are sent, never a person's client.
    return_path = _first(headers, "return-path")
    if return_path is not None and strip_comments(return_path).replace(" ", "") == "<>":
        return "null_return_path"
    return None


def is_bounce(headers: Headers, subject: str, sender: str | None, content_type: str | None = None) -> bool:
    """True when the mail is a delivery status notification (a bounce or a delay warning)."""
    return machine_mail_reason(headers, subject, sender, content_type) == "bounce"


class _Part(Protocol):
    @property
    def content_type(self) -> str: ...

    @property
    def payload(self) -> bytes: ...


def _dsn_fields(block: str) -> dict[str, str]:
    """Parse one header-like block of a delivery-status body, unfolding continuation lines."""
    fields: dict[str, str] = {}
    name = None
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name] += " " + line.strip()
            continue
        key, colon, value = line.partition(":")
        if colon:
            name = key.strip().lower()
            fields.setdefault(name, value.strip())
    return fields


def _dsn_address(value: str | None) -> str | None:
    if not value:
        return None
    _, semicolon, address = value.partition(";")
    address = (address if semicolon else value).strip().strip("<>").strip()
    return address if "@" in address else None


def bounced_recipients(headers: Headers, attachments: Iterable[_Part] = ()) -> tuple[str, ...]:
    """Return the lower-cased addresses a DSN reports as failed (Action: failed, then X-Failed-Recipients)."""
    found: list[str] = []
    for part in attachments:
        if part.content_type.lower() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        body = part.payload.decode("utf-8", "replace").replace("\r\n", "\n")
        for block in re.split(r"\n[ \t]*\n", body):
            fields = _dsn_fields(block)
            if fields.get("action", "").split(" ")[0].lower() != "failed":
                continue
            # Original-Recipient is the address as we sent it; Final-Recipient may be after forwarding.
            address = _dsn_address(fields.get("original-recipient")) or _dsn_address(fields.get("final-recipient"))
            if address:
                found.append(address)
    for value in _values(headers, "x-failed-recipients"):
        found.extend(address.strip().strip("<>") for address in value.split(",") if "@" in address)
    seen: set[str] = set()
    unique = []
    for address in found:
        # Lower-cased like the pipeline's own sender addresses, so the caller can compare directly.
        address = address.lower()
        if address not in seen:
            seen.add(address)
            unique.append(address)
    return tuple(unique)


def machine_reason_of(parsed: ParsedEmail) -> str | None:
    """Return machine_mail_reason for a ParsedEmail."""
    return machine_mail_reason(parsed.headers, parsed.subject, parsed.sender.email if parsed.sender else None)


def bounced_recipients_of(parsed: ParsedEmail) -> tuple[str, ...]:
    """Return bounced_recipients for a ParsedEmail."""
    return bounced_recipients(parsed.headers, parsed.attachments)


# Returned originals: the whole message, or only its headers (RFC 6522's text/rfc822-headers and its kin).
_RETURNED_TYPES = frozenset(
    {"message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers", "message/global-headers"}
)
_RETURNED_SCAN = 64 * 1024  # the returned headers sit at the start of their part


def bounce_references(parsed: ParsedEmail, piping_address: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (our Message-IDs, reply tokens) a bounce quotes: the evidence of which notification bounced.

    Message-IDs are those at the piping address's domain, from In-Reply-To, References, the returned message or
    headers and the report's text; tokens are read from those Message-IDs and from plus-addresses of the piping
    address (`support+<token>@`, the notification's Reply-To) in the same places. Nothing here is verified: the caller
    looks each one up in what was actually sent.
    """
    local, _, domain = piping_address.rpartition("@")
    texts = [parsed.in_reply_to or "", " ".join(parsed.references)]
    for part in parsed.attachments:
        if part.content_type.lower() in _RETURNED_TYPES:
            texts.append(part.payload[:_RETURNED_SCAN].decode("utf-8", "replace"))
    texts.append((parsed.text or "")[:_RETURNED_SCAN])
    message_ids: list[str] = []
    found_tokens: list[str] = []
    at_domain = re.compile(r"<([^<>\s@]{1,200})@" + re.escape(domain) + r">", re.IGNORECASE)
    plus = re.compile(re.escape(local) + r"\+([a-z2-7]{20,40})@" + re.escape(domain), re.IGNORECASE)
    for text in texts:
        if domain.lower() not in text.lower():
            continue
        for found in at_domain.finditer(text):
            # Our Message-IDs carry a token (tokens.message_id); `<support@domain>` is an address, not one of them.
            token = tokens.find_token(found.group(1).lower())
            if token is None:
                continue
            message_id = f"<{found.group(1)}@{domain}>"
            if message_id not in message_ids:
                message_ids.append(message_id)
            if token not in found_tokens:
                found_tokens.append(token)
        for found in plus.finditer(text):
            token = tokens.find_token(found.group(1).lower())
            if token and token not in found_tokens:
                found_tokens.append(token)
    return tuple(message_ids), tuple(found_tokens)
