"""Precompiled, linear-time patterns that recognise quote headers and signatures written by mail clients."""

from __future__ import annotations

import re

# Every pattern here is applied to one line (or at most a few joined lines) that callers cap in length, and none has
# nested unbounded quantifiers, so matching stays linear even on hostile input.

MAX_LINE = 1000  # characters of a line that header/signature patterns look at
MAX_HEADER = 400  # characters of a joined multi-line attribution header

HR_MARK = "\ue000"  # private-use line marker that html_text emits for <hr>; never present in real text


def _alt(words: str) -> str:
    """Build a regex alternation from a '|'-separated word list, longest first so prefixes do not win."""
    items = sorted({w.strip() for w in words.split("|") if w.strip()}, key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in items)


def _rx(template: str, *parts: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """Compile a template whose '@' placeholders are filled, in order, with pre-built alternations."""
    pieces = template.split("@")
    assert len(pieces) == len(parts) + 1, template
    out = pieces[0]
    for part, piece in zip(parts, pieces[1:], strict=True):
        out += part + piece
    return re.compile(out, flags)


# --- "On <date>, <who> wrote:" attribution lines -------------------------------------------------------------

# Words that open an attribution line in the languages mail clients localise (en, fr, de, es, it, pt, nl, pl, sv,
# no, da, cs, vi, ro, el ...).
_START_WORDS = _alt(
    "On|Le|Am|El|Il|Em|Op|W dniu|Dnia|Den|På|Vào|Dne|Ngày|În data de|Pe|Στις|Kl|Tanggal|Pada|Op de|Ter|"
    "Em data de|El día|Il giorno|Le jour"
)
# Verbs that close (or sit inside) an attribution line.
_VERBS = _alt(
    "wrote|writes|has written|a écrit|écrit|schrieb|geschrieben|escribió|escribio|escreveu|escrito|ha scritto|"
    "scrisse|schreef|het volgende geschreven|heeft geschreven|pisze|napisał|napisała|napisał(a)|napisal|"
    "написал|написала|написал(а)|написав|написала|пишет|пише|писал|skrev|kirjoitti|kirjoittaa|napsal|"
    "napsala|írta|yazdı|scrie|a scris|έγραψε|đã viết|menulis|wrote the following"
)
_VERB_ASIAN = r"写道|寫道|寫到|写到|のメッセージ|のメール|작성|님의\s*메시지|が書きました|は書きました"

# "On 11-Apr-2011, at 6:54 PM, Roman <romant@example.com> sent:" is an attribution too, but only after a start word.
VERB_OR_SENT_RE = _rx(r"(?:(?<!\w)(?:@|sent)(?!\w))|(?:@)", _VERBS, _VERB_ASIAN)
START_RE = _rx(r"^\s*+[-–—>]*+\s*+(?:@)(?:\s|$)", _START_WORDS)
VERB_RE = _rx(r"(?:(?<!\w)(?:@)(?!\w))|(?:@)", _VERBS, _VERB_ASIAN)
# Attribution terminator: the (joined) header ends with a colon, ASCII or full width.
ENDS_COLON_RE = re.compile(r"[:：]\s*[*_]*\s*$")
# "On ... wrote" without the colon, e.g. "------On 12/29/1987 17:32 PM, Julius Caesar wrote-----".
VERB_AT_END_RE = _rx(r"(?:(?<!\w)(?:@)|@)\s*[-–—]*\s*$", _VERBS, _VERB_ASIAN)
# Android: "---- John Smith wrote ----".
DASHED_ATTRIBUTION_RE = _rx(
    r"^\s*+[-–—]{2,}+\s*+\S.{0,200}?(?:(?<!\w)(?:@)|@)\s*[:：]?\s*[-–—]{2,}\s*$", _VERBS, _VERB_ASIAN
)
# A reply and an attribution sharing one line: "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:".
SHARED_LINE_RE = _rx(r"(?:\s|-)(?:@)\s[^\n]{4,250}?(?:(?<!\w)(?:@))\s*[:：]\s*$", _START_WORDS, _VERBS)

# A date or a time: years, numeric dates, clock times, CJK dates.
DATEISH_RE = re.compile(
    r"(?:(?<!\d)(?:19|20)\d\d(?!\d))|(?:\d{1,2}[:.h]\d\d)|(?:\d{1,4}[-./]\d{1,2}[-./]\d{1,4})|(?:\d{1,4}\s*[年月日])"
)
EMAILISH_RE = re.compile(r"[\w.+\-]@[\w\-]+\.[\w.\-]|mailto:", re.IGNORECASE)
# An address written the way attribution lines write it: in angle brackets, parentheses, brackets or quotes.
EMAIL_BRACKETED_RE = re.compile(
    r"[<(\[\"«]\s*(?:mailto:)?[^\s<>()\[\]@]{1,100}@[^\s<>()\[\]]{1,200}?\s*[>)\]\"»]|\[mailto:", re.IGNORECASE
)
# A line that starts with a date, e.g. "2014-10-17 11:28 GMT+03:00 Postmaster <...>:" or "26.06.2014, 14:41, ...".
DATE_START_RE = re.compile(
    r"^\s*(?:\d{1,4}[-./年]\s*\d{1,2}[-./月]\s*\d{1,4}|\d{1,2}\s+\w{3,}\.?\s+\d{4}|\w{2,12}\.?,?\s+\d{1,2}\.?\s+\w{3,}\.?\s+\d{4})"
)

# A line that ends a sentence: terminal punctuation after a word longer than an abbreviation ("mar.", "Di., 5.").
SENTENCE_END_RE = re.compile(r"[^\W\d_]{5,}[.!?]\)?\s*$|[!?]\s*$")

# --- Outlook / webmail header blocks ("From: ... Sent: ... To: ... Subject: ...") -------------------------------

_FIELD_FROM = _alt(
    "From|De|Von|Da|Van|Od|От|Від|Från|Fra|Frá|Lähettäjä|Feladó|Kimden|Afzender|Expéditeur|Absender|Mittente|"
    "Remitente|Nadawca|Отправитель|Відправник|Avsändare|Afsender|Avsender|Lähettäjä|发件人|發件人|寄件者|寄件人|"
    "差出人|送信者|発信者|보낸 사람|Gönderen|Odesílatel|Expeditor|Αποστολέας"
)
_FIELD_SENT = _alt(
    "Sent|Date|Envoyé|Envoye|Gesendet|Datum|Inviato|Data|Enviado|Enviada|Fecha|Verzonden|Verstuurd|Wysłano|"
    "Wysłane|Отправлено|Дата|Відправлено|Надіслано|Skickat|Sendt|Dato|Lähetetty|Päivämäärä|Päiväys|Elküldve|"
    "Dátum|Tarih|Gönderildi|Gönderilme|Odesláno|发送时间|發送時間|发送日期|日期|時間|送信日時|日付|날짜|보낸 날짜|"
    "Trimis|Ημερομηνία|Sent at|Date sent"
)
_FIELD_TO = _alt(
    "To|À|A|An|Para|Aan|Do|Кому|Till|Til|Vastaanottaja|Címzett|Kime|Komu|收件人|收件者|宛先|받는 사람|"
    "Destinatario|Destinataire|Empfänger|Adresát|Către|Προς|Reply-To|Reply To|Antwort an|Répondre à"
)
_FIELD_CC = _alt("Cc|Bcc|Cci|Kopie|Copie|Kopia|DW|Копия|Копія|Kopio|Másolat|Bilgi|抄送|副本|참조|Kopi|Kopie an|CC")
_FIELD_SUBJECT = _alt(
    "Subject|Objet|Betreff|Oggetto|Asunto|Assunto|Onderwerp|Temat|Тема|Ämne|Emne|Aihe|Tárgy|Konu|Předmět|主题|"
    "主旨|件名|제목|Sujet|Subiect|Θέμα|Onderwerp"
)
_FIELD_OTHER = _alt("On Behalf Of|Importance|Priority|Wichtigkeit|Importância|Priorité")

FIELD_RE = _rx(
    r"^\s*+[*_]{0,2}+\s*+(?:(?P<from>@)|(?P<sent>@)|(?P<to>@)|(?P<cc>@)|(?P<subject>@)|(?P<other>@))"
    r"\s*[*_]{0,2}\s*[:：]",
    _FIELD_FROM,
    _FIELD_SENT,
    _FIELD_TO,
    _FIELD_CC,
    _FIELD_SUBJECT,
    _FIELD_OTHER,
)
# A header field named inside a single rendered line ("From: bob@example.com Date: Thu, 24 Mar 2016 ...").
INLINE_FIELD_RE = _rx(r"\s[*_]{0,2}(?:@|@|@)[*_]{0,2}\s*[:：]", _FIELD_SENT, _FIELD_TO, _FIELD_SUBJECT)
# Any "Word:" line, used to stop a header block at unknown fields such as "Time:" or "Address:".
GENERIC_FIELD_RE = re.compile(r"^\s*[*_]{0,2}[^\s:：]{1,25}(?:\s[^\s:：]{1,25}){0,2}[*_]{0,2}\s*[:：]")

# --- Separators -------------------------------------------------------------------------------------------------

_ORIGINAL = _alt(
    "Original Message|Original Email|Reply Message|Ursprüngliche Nachricht|Ursprungliche Nachricht|"
    "Originalnachricht|Antwort Nachricht|Oprindelig meddelelse|Original meddelelse|Message d'origine|"
    "Message d’origine|Message original|Mensaje original|Messaggio originale|Messaggio originario|"
    "Mensagem original|Mensagem Original|Oorspronkelijk bericht|Origineel bericht|Wiadomość oryginalna|"
    "Oryginalna wiadomość|Исходное сообщение|Оригинальное сообщение|Исходное письмо|Вихідне повідомлення|"
    "Оригінальне повідомлення|Ursprungligt meddelande|Originalmeddelande|Opprinnelig melding|"
    "Opprinnelig e-post|Alkuperäinen viesti|原始邮件|原始郵件|原始信件|原邮件|元のメッセージ|オリジナルメッセージ|"
    "Původní zpráva|Pôvodná správa|Eredeti üzenet|Orijinal Mesaj|Özgün ileti|원본 메시지|Mesaj original|"
    "Αρχικό μήνυμα"
)
_FORWARDED = _alt(
    "Forwarded message|Forwarded Message|Forwarded mail|Forwarded e-mail|Begin forwarded message|"
    "Weitergeleitete Nachricht|Weitergeleitete Mitteilung|Message transféré|Début du message réexpédié|"
    "Mensaje reenviado|Mensaje original reenviado|Messaggio inoltrato|Inizio messaggio inoltrato|"
    "Mensagem encaminhada|Início da mensagem reencaminhada|Doorgestuurd bericht|Begin doorgestuurd bericht|"
    "Wiadomość przekazana dalej|Przekazana wiadomość|Пересылаемое сообщение|Пересланное сообщение|"
    "Начало переадресованного сообщения|Переслане повідомлення|Vidarebefordrat meddelande|"
    "Videresendt melding|Videresendt meddelelse|Välitetty viesti|转发的邮件|轉寄的郵件|転送されたメッセージ|"
    "転送メッセージ|Přeposlaná zpráva|Továbbított üzenet|전달된 메시지"
)
ORIGINAL_MESSAGE_RE = _rx(r"^\s*+[-_=*—–~]*+\s*+(?:@)\s*[:：]?\s*[-_=*—–~]*\s*$", _ORIGINAL)
FORWARDED_RE = _rx(r"^\s*+[-_=*—–~>]*+\s*+(?:@)\s*[:：]?\s*[-_=*—–~]*\s*$", _FORWARDED)
# A horizontal rule written with characters: Outlook's underscores, dashes, equals, box drawing, or an <hr> marker.
SEPARATOR_RE = _rx(r"^\s*(?:[-_=—–~*]\s*){2,}$|^\s*@\s*$", HR_MARK, flags=0)
LONG_SEPARATOR_RE = _rx(r"^\s*(?:[_=—–~]{8,}|-{8,}|@)\s*$", HR_MARK, flags=0)

# --- Quotes -----------------------------------------------------------------------------------------------------

QUOTE_RE = re.compile(r"^[ \t]{0,3}>")
# ">>> >>>  http://www.domain.com <<<" is decoration, not a quote.
ARROW_DECORATION_RE = re.compile(r"<<\s*$")

# --- Signatures -------------------------------------------------------------------------------------------------

SIG_DASHES_RE = re.compile(r"^(?:--|—|––)\s*$")
# Separator lines that may open a trailing signature or list footer ("---", "________", "----------------").
SIG_SEPARATOR_RE = re.compile(r"^\s*(?:(?:[-_—–]\s*){2,}|={10,}\s*)$")
# "-Abhishek Kona", "- roman", "-Lev.": a dash followed by a short name.
DASH_NAME_RE = re.compile(r"^\s{0,2}[-–—]\s?[^\W\d_][\w'’.\-]{0,24}(?:\s[^\W\d_][\w'’.\-]{0,24}){0,2}\s*$")
LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•+–]|\d{1,3}[.)])\s")

# Mobile and app signatures in many languages. Links the client appends ("<https://aka.ms/...>") are stripped
# before matching.
_DEVICE = (
    r"iPhone|iPad|iPod|iOS|Android|BlackBerry|Blackberry|mobile|Mobile|phone|Phone|smartphone|Smartphone|Samsung|"
    r"Galaxy|HTC|Huawei|Xiaomi|Nokia|Motorola|Pixel|OnePlus|Sony|LG|tablet|Tablet|device|Windows|Outlook|Mail|mail|"
    r"Mailbox|Sparrow|Yahoo|Gmail|AOL|Acompli|Airmail|Spark|Superhuman|BlueMail|Blue Mail|Newton|Nine|Edison|"
    r"Proton|Tuta|Zoho|Fastmail|Hey|Polymail|Canary|Thunderbird|GMX|WEB\.DE|web\.de|Mail\.ru|Почты|Яндекс|Yandex|"
    r"Telcel|Bell|Verizon|T-Mobile|AT&T|Sprint|Vodafone|Orange|Telekom|Wear|Watch"
)
MOBILE_SIG_RE = re.compile(
    r"^\s*(?:"
    # English
    r"sent\s+from\s+my\s+[\w®'’\-.&]+(?:\s+[\w®'’\-.&]+){0,4}\s*[!.]?"
    r"|sent\s+(?:wirelessly\s+|remotely\s+)?(?:from|with|via|using|by|on)\s+(?:my\s+|the\s+|an?\s+)?.{0,80}?"
    r"\b(?:" + _DEVICE + r")\b.{0,60}"
    r"|get\s+outlook\s+for\s+\w+.{0,30}"
    r"|sent\s+(?:from|with|using|via|by)\s+(?-i:[A-Z][\w.\-]*(?:\s+[A-Z0-9][\w.\-]*){0,2})"
    r"|(?:download|get)\s+(?:the\s+)?\w+\s+(?:mail\s+)?app.{0,40}"
    # French
    r"|envoy[ée]\s+(?:de|depuis|à partir de|a partir de|avec|par|sans fil par)\s+(?:mon|ma|mes|l['’]|un|une)?\s*.{0,80}"
    r"|obtenir\s+outlook\s+pour\s+.{0,30}|télécharger\s+outlook\s+pour\s+.{0,30}"
    # German
    r"|von\s+meinem\s+.{1,60}?\s+gesendet.{0,20}"
    r"|gesendet\s+(?:von|mit|vom|über|ueber|aus)\s+(?:meinem|meiner|der|dem|einem)?\s*.{0,60}"
    r"|holen\s+sie\s+sich\s+outlook\s+für\s+.{0,30}|outlook\s+für\s+(?:ios|android)\s+(?:herunterladen|beziehen).{0,10}"
    # Spanish / Portuguese
    r"|enviado\s+(?:desde|con|de|do|da|pelo|pela|por|a\s+trav[eé]s\s+de)\s+(?:mi|meu|minha|o|a|el|la|un|una)?\s*.{0,80}"
    r"|obt(?:ener|enga|er)\s+(?:o\s+)?outlook\s+(?:para|pra)\s+.{0,30}|baixe\s+o\s+outlook\s+para\s+.{0,30}"
    r"|descargar?\s+outlook\s+para\s+.{0,30}"
    # Italian
    r"|inviato\s+(?:da|dal|dalla|con|tramite)\s+(?:il\s+|mio\s+|la\s+|mia\s+|un\s+)*.{0,80}"
    r"|scarica\s+outlook\s+per\s+.{0,30}|ottieni\s+outlook\s+per\s+.{0,30}"
    # Dutch
    r"|verzonden\s+(?:met|vanaf|van|via|vanuit)\s+(?:mijn\s+|een\s+|de\s+)?.{0,80}"
    r"|verstuurd\s+(?:met|vanaf|van|via|vanuit)\s+(?:mijn\s+|een\s+|de\s+)?.{0,80}"
    r"|outlook\s+voor\s+(?:ios|android)\s+downloaden.{0,10}|download\s+outlook\s+voor\s+.{0,30}"
    # Polish
    r"|wys[łl]ane\s+(?:z|ze|przez|za\s+pomocą)\s+.{1,80}|wys[łl]ano\s+(?:z|ze|przez|za\s+pomocą)\s+.{1,80}"
    r"|pobierz\s+(?:aplikację\s+)?outlook\s+.{0,40}"
    # Russian / Ukrainian
    r"|отправлено\s+(?:с|со|из|через)\s+.{1,80}|послано\s+(?:с|со|из|через)\s+.{1,80}"
    r"|надіслано\s+(?:з|із|зі|через)\s+.{1,80}|відправлено\s+(?:з|із|зі|через)\s+.{1,80}"
    r"|получить\s+outlook\s+для\s+.{0,30}|отримати\s+outlook\s+для\s+.{0,30}"
    # Scandinavian / Finnish
    r"|skickat\s+från\s+.{1,80}|skickades\s+från\s+.{1,80}|skaffa\s+outlook\s+för\s+.{0,30}"
    r"|sendt\s+fra\s+.{1,80}|hent\s+outlook\s+(?:til|for)\s+.{0,30}|få\s+outlook\s+(?:til|for)\s+.{0,30}"
    r"|lähetetty\s+.{1,60}?(?:sta|stä|lta|ltä|ssa|ssä)\b.{0,40}|lähetetty\s+(?:laitteesta|mobiilista|puhelimesta).{0,60}"
    r"|hanki\s+outlook\s+.{0,40}"
    # Czech / Hungarian / Turkish / Romanian
    r"|odesláno\s+z\s+.{1,80}|küldve\s+.{1,60}|(?:iphone|ipad|android)['’]?\s*(?:dan|den|tan|ten)\s+gönderildi.{0,20}"
    r"|trimis\s+de\s+pe\s+.{1,80}"
    r")\s*$",
    re.IGNORECASE,
)
# CJK mobile signatures: "从我的iPhone发送", "发自我的iPhone", "iPhoneから送信", "Android에서 보냄".
MOBILE_SIG_CJK_RE = re.compile(
    r"^\s*(?:从我的.{1,40}?发送|發自我的.{1,40}|发自我的.{1,40}|從我的.{1,40}?傳送|发自.{1,30}|"
    r".{1,40}?から送信|.{1,40}?から送られました|.{1,40}?에서\s*보냄|.{1,40}?에서\s*보낸\s*메일|"
    r"获取\s*outlook.{0,30}|取得\s*outlook.{0,30}|outlook\s*for\s*\w+\s*を入手.{0,10}|"
    r"发自网易邮箱.{0,20}|发自\s*qq\s*邮箱.{0,20}|来自.{1,20}邮箱.{0,10})\s*[。.!！]?\s*$",
    re.IGNORECASE,
)
# "Sent from my desk, is much easier then my mobile phone." is a sentence, not a signature.
SENTENCE_AFTER_COMMA_RE = re.compile(
    r",\s+(?:is|it|it's|was|and|but|so|because|which|that|i|we|you|he|she|they)\b", re.IGNORECASE
)
LINK_IN_LINE_RE = re.compile(
    r"<(?:https?|mailto):[^>\s]{0,500}>|\[(?:https?|mailto):[^\]\s]{0,500}\]|\(https?:[^)\s]{0,500}\)"
)

# Confidentiality notices and list footers that end a message.
DISCLAIMER_RE = re.compile(
    r"^\s*[*_]{0,2}(?:"
    r"confidential(?:ity)?(?:\s+notice|\s+note|\s+statement|\s+warning)?\s*[:\-]?"
    r"|disclaimer\s*[:\-]?|important\s*[:\-]?\s+this\s+(?:e-?mail|message)|legal\s+notice\s*:?"
    r"|this\s+(?:e-?mail|message|communication|transmission)\b.{0,80}\b(?:confidential|privileged|intended\s+(?:solely|only)|intended\s+for)"
    r"|the\s+information\s+(?:contained\s+)?in\s+this\s+(?:e-?mail|message|communication)"
    r"|the\s+content\s+of\s+this\s+(?:e-?mail|message)\s+is\s+confidential"
    r"|please\s+consider\s+the\s+environment\s+before\s+printing"
    r"|you\s+(?:received|are\s+receiving)\s+this\s+(?:message|email|e-mail)\s+because\s+you\s+are\s+subscribed"
    r"|to\s+unsubscribe\s+from\s+this\s+group"
    r"|ce\s+(?:message|courriel|mail|e-mail)\s.{0,60}\b(?:confidentiel|destinataires?)"
    r"|diese\s+(?:e-?mail|nachricht)\s.{0,60}\b(?:vertraulich|bestimmt|Informationen)"
    r"|este\s+(?:mensaje|correo|e-?mail)\s.{0,60}\b(?:confidencial|destinatario)"
    r"|questo\s+messaggio\s.{0,60}\b(?:riservat|confidenzial|destinatari)"
    r"|esta\s+mensagem\s.{0,60}\b(?:confidencia|destinat)"
    r"|dit\s+(?:e-?mail)?bericht\s.{0,60}\b(?:vertrouwelijk|bestemd)"
    r"|ta\s+wiadomość\s.{0,60}\b(?:poufn|przeznaczon)"
    r"|это\s+(?:письмо|сообщение)\s.{0,60}\b(?:конфиденциальн|предназначен)"
    r")",
    re.IGNORECASE,
)
# A disclaimer opener only counts when the paragraph reads like legal boilerplate (so "Confidential: do not share
# the numbers." written by the sender stays).
LEGAL_WORDS_RE = re.compile(
    r"intended|recipient|privileged|prohibited|unauthori[sz]ed|disclos|destinataire|destinatario|destinatári|"
    r"empfänger|vertraulich|riservat|poufn|adresat|конфиденциальн|получател|subscribed|unsubscribe|environment",
    re.IGNORECASE,
)
# Lines of a contact block: addresses, phones, links, handles.
CONTACT_RE = re.compile(
    r"[\w.+\-]@[\w\-]+\.\w|https?://|www\.|\b[\w\-]+\.(?:com|org|net|io|co|de|fr|uk)\b"
    r"|(?:\+?\d[\d\s().\-]{6,}\d)|^\s*(?:t|f|m|p|tel|fax|mob|mobile|phone|cell|skype|e|email)\s*[.:]",
    re.IGNORECASE,
)

# --- Delimiter inserted by the product ------------------------------------------------------------------------------

DELIMITER_LINE_RE = re.compile(
    r"^[\s>]*#{2,}[-\s]*(?:please\s+)?(?:type|write|enter)\s+(?:your\s+)?(?:reply|response|answer)"
    r"|^[\s>]*#{2,}.{0,40}\b(?:reply|respond|answer|write)\b.{0,20}\babove\b"
    r"|^[\s>]*#{2,}.{0,60}\babove\s+this\s+line\b",
    re.IGNORECASE,
)
# Other help desks' markers ("-- Reply above this line --", "##- Please type your reply above this line -##").
GENERIC_DELIMITER_RE = re.compile(
    r"^[\s>]*[-#=_*~]{2,}\s*(?:please\s+)?(?:type\s+your\s+|write\s+your\s+)?(?:reply|respond|response|answer)"
    r"\s+(?:\w+\s+){0,3}above\s+(?:this|the)\s+line\b.{0,30}$",
    re.IGNORECASE,
)
DELIMITER_BARE_RE = re.compile(r"^[\s>]*#{3,}\s*$")
DELIMITER_TAIL_RE = re.compile(
    r"\b(?:above\s+this\s+line|reply\s+above|type\s+your\s+reply)\b.{0,10}#{2,}\s*$", re.IGNORECASE
)
DELIMITER_WRAPPED_RE = re.compile(r"^[\s>]*#{3}\s*[^\W\d_][^#]{0,120}#{3,}\s*$")
