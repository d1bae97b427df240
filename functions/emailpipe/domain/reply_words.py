"""The words mail clients write around a reply, by kind and language: data that reply_patterns builds regexes from.

To add a language, add its words next to its siblings under each kind it has (a language code as key). Words are
matched case-insensitively; in a word, a space stands for any run of whitespace. Within one kind the order of the
words and of the languages does not matter (the longest word is tried first). A word may sit under several
languages; "xx" is for words that are the same everywhere (brand names, numerals).
"""

from __future__ import annotations

Words = dict[str, tuple[str, ...]]

# --- "On <date>, <who> wrote:" attribution lines -------------------------------------------------------------------

# Words that open an attribution line ("On", "Le", "Am"), followed by whitespace.
ATTRIBUTION_STARTS: Words = {
    "en": ("On",),
    "fr": ("Le", "Le jour"),
    "de": ("Am",),
    "es": ("El", "El día"),
    "it": ("Il", "Il giorno"),
    "pt": ("Em", "Em data de"),
    "nl": ("Op", "Op de", "Ter"),
    "pl": ("W dniu", "Dnia"),
    "sv": ("Den",),
    "da": ("Den", "Kl"),
    "no": ("Den", "På", "Kl"),
    "cs": ("Dne",),
    "ro": ("În data de", "Pe"),
    "el": ("Στις",),
    "vi": ("Vào", "Ngày"),
    "id": ("Tanggal", "Pada"),
}

# Verbs that close (or sit inside) an attribution line, as whole words ("wrote", "a écrit", "schrieb").
ATTRIBUTION_VERBS: Words = {
    "en": ("wrote", "writes", "has written", "wrote the following"),
    "fr": ("a écrit", "écrit"),
    "de": ("schrieb", "geschrieben"),
    "es": ("escribió", "escribio", "escrito"),
    "pt": ("escreveu", "escrito"),
    "it": ("ha scritto", "scrisse"),
    "nl": ("schreef", "het volgende geschreven", "heeft geschreven"),
    "pl": ("pisze", "napisał", "napisała", "napisał(a)", "napisal"),
    "ru": ("написал", "написала", "написал(а)", "пишет", "писал"),
    "uk": ("написав", "написала", "пише"),
    "sv": ("skrev",),
    "da": ("skrev",),
    "no": ("skrev",),
    "fi": ("kirjoitti", "kirjoittaa"),
    "cs": ("napsal", "napsala"),
    "hu": ("írta",),
    "tr": ("yazdı",),
    "ro": ("scrie", "a scris"),
    "el": ("έγραψε",),
    "vi": ("đã viết",),
    "id": ("menulis",),
}

# The same for CJK clients, found anywhere (no word boundaries); here a space stands for optional whitespace.
ATTRIBUTION_VERBS_CJK: Words = {
    "zh": ("写道", "寫道", "寫到", "写到"),
    "ja": ("のメッセージ", "のメール", "が書きました", "は書きました"),
    "ko": ("작성", "님의 메시지"),
}

# --- Outlook / webmail header blocks ("From: ... Sent: ... To: ... Subject: ...") ----------------------------------
# A field name in more than one kind is read as the first of from, sent, to, cc, subject, other.

HEADER_FROM: Words = {
    "en": ("From",),
    "fr": ("De", "Expéditeur"),
    "de": ("Von", "Absender"),
    "es": ("De", "Remitente"),
    "it": ("Da", "Mittente"),
    "pt": ("De",),
    "nl": ("Van", "Afzender"),
    "pl": ("Od", "Nadawca"),
    "ru": ("От", "Отправитель"),
    "uk": ("Від", "Відправник"),
    "sv": ("Från", "Avsändare"),
    "da": ("Fra", "Afsender"),
    "no": ("Fra", "Avsender"),
    "is": ("Frá",),
    "fi": ("Lähettäjä",),
    "hu": ("Feladó",),
    "tr": ("Kimden", "Gönderen"),
    "cs": ("Od", "Odesílatel"),
    "ro": ("De", "Expeditor"),
    "el": ("Αποστολέας",),
    "zh": ("发件人", "發件人", "寄件者", "寄件人"),
    "ja": ("差出人", "送信者", "発信者"),
    "ko": ("보낸 사람",),
}
HEADER_SENT: Words = {
    "en": ("Sent", "Date", "Sent at", "Date sent"),
    "fr": ("Envoyé", "Envoye", "Date"),
    "de": ("Gesendet", "Datum"),
    "es": ("Enviado", "Enviada", "Fecha"),
    "it": ("Inviato", "Data"),
    "pt": ("Enviado", "Enviada", "Data"),
    "nl": ("Verzonden", "Verstuurd", "Datum"),
    "pl": ("Wysłano", "Wysłane", "Data"),
    "ru": ("Отправлено", "Дата"),
    "uk": ("Відправлено", "Надіслано", "Дата"),
    "sv": ("Skickat", "Datum"),
    "da": ("Sendt", "Dato"),
    "no": ("Sendt", "Dato"),
    "fi": ("Lähetetty", "Päivämäärä", "Päiväys"),
    "hu": ("Elküldve", "Dátum"),
    "tr": ("Tarih", "Gönderildi", "Gönderilme"),
    "cs": ("Odesláno", "Datum"),
    "ro": ("Trimis", "Data"),
    "el": ("Ημερομηνία",),
    "zh": ("发送时间", "發送時間", "发送日期", "日期", "時間"),
    "ja": ("送信日時", "日付"),
    "ko": ("날짜", "보낸 날짜"),
}
HEADER_TO: Words = {
    "en": ("To", "Reply-To", "Reply To"),
    "fr": ("À", "A", "Destinataire", "Répondre à"),
    "de": ("An", "Empfänger", "Antwort an"),
    "es": ("Para", "Destinatario"),
    "it": ("A", "Destinatario"),
    "pt": ("Para",),
    "nl": ("Aan",),
    "pl": ("Do",),
    "ru": ("Кому",),
    "uk": ("Кому",),
    "sv": ("Till",),
    "da": ("Til",),
    "no": ("Til",),
    "fi": ("Vastaanottaja",),
    "hu": ("Címzett",),
    "tr": ("Kime",),
    "cs": ("Komu", "Adresát"),
    "ro": ("Către",),
    "el": ("Προς",),
    "zh": ("收件人", "收件者"),
    "ja": ("宛先",),
    "ko": ("받는 사람",),
}
HEADER_CC: Words = {
    "en": ("Cc", "CC", "Bcc"),
    "fr": ("Cci", "Copie"),
    "de": ("Kopie", "Kopie an"),
    "nl": ("Kopie",),
    "pl": ("Kopia", "DW"),
    "ru": ("Копия",),
    "uk": ("Копія",),
    "da": ("Kopi",),
    "no": ("Kopi",),
    "fi": ("Kopio",),
    "hu": ("Másolat",),
    "tr": ("Bilgi",),
    "ro": ("Copie",),
    "zh": ("抄送", "副本"),
    "ko": ("참조",),
}
HEADER_SUBJECT: Words = {
    "en": ("Subject",),
    "fr": ("Objet", "Sujet"),
    "de": ("Betreff",),
    "es": ("Asunto",),
    "it": ("Oggetto",),
    "pt": ("Assunto",),
    "nl": ("Onderwerp",),
    "pl": ("Temat",),
    "ru": ("Тема",),
    "uk": ("Тема",),
    "sv": ("Ämne",),
    "da": ("Emne",),
    "no": ("Emne",),
    "fi": ("Aihe",),
    "hu": ("Tárgy",),
    "tr": ("Konu",),
    "cs": ("Předmět",),
    "ro": ("Subiect",),
    "el": ("Θέμα",),
    "zh": ("主题", "主旨"),
    "ja": ("件名",),
    "ko": ("제목",),
}
HEADER_OTHER: Words = {
    "en": ("On Behalf Of", "Importance", "Priority"),
    "fr": ("Importance", "Priorité"),
    "de": ("Wichtigkeit",),
    "pt": ("Importância",),
}

# --- Separator lines -------------------------------------------------------------------------------------------

# "-----Original Message-----" and its translations (dashes, underscores, equals or stars around, a colon after).
ORIGINAL_MESSAGE: Words = {
    "en": ("Original Message", "Original Email", "Reply Message"),
    "fr": ("Message d'origine", "Message d’origine", "Message original"),
    "de": ("Ursprüngliche Nachricht", "Ursprungliche Nachricht", "Originalnachricht", "Antwort Nachricht"),
    "es": ("Mensaje original",),
    "it": ("Messaggio originale", "Messaggio originario"),
    "pt": ("Mensagem original",),
    "nl": ("Oorspronkelijk bericht", "Origineel bericht"),
    "pl": ("Wiadomość oryginalna", "Oryginalna wiadomość"),
    "ru": ("Исходное сообщение", "Оригинальное сообщение", "Исходное письмо"),
    "uk": ("Вихідне повідомлення", "Оригінальне повідомлення"),
    "sv": ("Ursprungligt meddelande", "Originalmeddelande"),
    "da": ("Oprindelig meddelelse", "Original meddelelse"),
    "no": ("Opprinnelig melding", "Opprinnelig e-post"),
    "fi": ("Alkuperäinen viesti",),
    "cs": ("Původní zpráva",),
    "sk": ("Pôvodná správa",),
    "hu": ("Eredeti üzenet",),
    "tr": ("Orijinal Mesaj", "Özgün ileti"),
    "ro": ("Mesaj original",),
    "el": ("Αρχικό μήνυμα",),
    "zh": ("原始邮件", "原始郵件", "原始信件", "原邮件"),
    "ja": ("元のメッセージ", "オリジナルメッセージ"),
    "ko": ("원본 메시지",),
}

# "---------- Forwarded message ---------", Apple Mail's "Begin forwarded message:" and their translations.
FORWARDED_MESSAGE: Words = {
    "en": (
        "Forwarded message",
        "Forwarded mail",
        "Forwarded e-mail",
        "Forwarded Email",
        "Begin forwarded message",
    ),
    "fr": ("Message transféré", "Début du message réexpédié"),
    "de": ("Weitergeleitete Nachricht", "Weitergeleitete Mitteilung", "Anfang der weitergeleiteten Nachricht"),
    "es": ("Mensaje reenviado", "Mensaje original reenviado", "Inicio del mensaje reenviado"),
    "it": ("Messaggio inoltrato", "Inizio messaggio inoltrato"),
    "pt": ("Mensagem encaminhada", "Início da mensagem reencaminhada", "Início da mensagem encaminhada"),
    "nl": ("Doorgestuurd bericht", "Begin doorgestuurd bericht", "Doorgestuurd e-mailbericht"),
    "pl": ("Wiadomość przekazana dalej", "Przekazana wiadomość"),
    "ru": ("Пересылаемое сообщение", "Пересланное сообщение", "Начало переадресованного сообщения"),
    "uk": ("Переслане повідомлення",),
    "sv": ("Vidarebefordrat meddelande", "Vidarebefordrat brev", "Vidarebefordrat mejl"),
    "da": ("Videresendt meddelelse", "Videresendt besked"),
    "no": ("Videresendt melding",),
    "fi": ("Välitetty viesti",),
    "cs": ("Přeposlaná zpráva",),
    "hu": ("Továbbított üzenet",),
    "zh": ("转发的邮件", "轉寄的郵件"),
    "ja": ("転送されたメッセージ", "転送メッセージ"),
    "ko": ("전달된 메시지",),
}

# --- Subject prefixes ("Fwd: RE: ...") -------------------------------------------------------------------------

# What mail clients put in front of a forwarded email's subject. Finnish Outlook writes VS for a reply, and then
# only a reply whose history is an Outlook header block is kept whole.
SUBJECT_FORWARD_PREFIXES: Words = {
    "en": ("Fwd", "Fw", "Fwrd"),
    "de": ("WG",),
    "fr": ("TR",),
    "es": ("RV",),
    "it": ("I",),
    "nl": ("Doorst",),
    "pt": ("ENC",),
    "sv": ("VB",),
    "da": ("VS",),
    "no": ("VS",),
    "fi": ("VL",),
    "pl": ("PD",),
    "cs": ("PŘ",),
    "hu": ("TOV",),
    "tr": ("İLT", "ILT"),
    "el": ("ΠΘ",),
    "ru": ("Пересл", "Переслано"),
    "zh": ("转发", "轉寄", "轉發"),
    "ja": ("転送",),
    "ko": ("전달",),
}
SUBJECT_REPLY_PREFIXES: Words = {
    "en": ("Re",),
    "de": ("AW", "Antwort"),
    "nl": ("Antw",),
    "sv": ("SV",),
    "da": ("SV",),
    "no": ("SV",),
    "it": ("R", "RIF"),
    "pt": ("RES",),
    "pl": ("ODP",),
    "tr": ("Ynt",),
    "hu": ("Vá", "VA"),
    "lv": ("Atb",),
    "lt": ("Ats",),
    "hr": ("Odg",),
    "ru": ("Отв", "Ответ"),
    "el": ("ΑΠ", "ΣΧΕΤ"),
    "zh": ("回复", "回覆", "答复"),
    "ja": ("返信",),
    "ko": ("답장", "회신"),
}

# --- Machine mail (trust.py): subjects of auto-replies and bounces ----------------------------------------------

# Reply prefixes an auto-responder may put in front of its subject ("Re: Automatic reply: ...").
AUTO_REPLY_SUBJECT_PREFIXES: Words = {
    "en": ("re",),
    "de": ("aw", "antw", "antwort"),
    "sv": ("sv",),
    "fi": ("vs",),
    "it": ("r", "rif"),
    "pt": ("res",),
    "pl": ("odp",),
    "tr": ("ynt",),
    "hu": ("vá",),
    "ru": ("ответ", "отв"),
    "zh": ("回复", "回覆", "答复"),
    "ja": ("返信",),
}

# A subject that starts with one of these (then its end or punctuation) is an out-of-office or auto-reply.
# Case and the dotless ı do not matter ("yanıt" covers "yanit").
OUT_OF_OFFICE_SUBJECTS: Words = {
    "en": (
        "out of office",
        "out of the office",
        "away from office",
        "away from the office",
        "automatic reply",
        "automatic response",
        "auto-reply",
        "auto reply",
        "autoreply",
        "auto-response",
        "auto response",
        "autoresponse",
        "autoresponder",
        "vacation reply",
        "vacation response",
        "vacation message",
        "vacation notice",
        "ooo",
    ),
    "de": (
        "abwesenheitsnotiz",
        "abwesenheitsmeldung",
        "abwesenheit",
        "abwesend",
        "automatische abwesenheitsnotiz",
        "automatische antwort",
        "nicht im büro",
        "außer haus",
    ),
    "fr": (
        "réponse automatique d'absence du bureau",
        "reponse automatique d'absence du bureau",
        "réponse automatique",
        "reponse automatique",
        "message d'absence",
        "absence du bureau",
        "absent du bureau",
        "absente du bureau",
        "absence",
        "absent",
        "absente",
        "hors du bureau",
    ),
    "es": (
        "respuesta automatica",
        "respuesta automática",
        "fuera de oficina",
        "fuera de la oficina",
        "ausente",
        "ausencia",
    ),
    "it": ("risposta automatica", "fuori sede", "fuori ufficio", "fuori dall'ufficio", "assente"),
    "pt": (
        "resposta automatica",
        "resposta automática",
        "fora do escritório",
        "fora do escritorio",
        "ausência",
        "ausencia",
    ),
    "nl": ("afwezig", "afwezigheidsmelding", "automatisch antwoord", "niet aanwezig", "buiten kantoor"),
    "pl": (
        "odpowiedź automatyczna",
        "odpowiedz automatyczna",
        "automatyczna odpowiedź",
        "automatyczna odpowiedz",
        "poza biurem",
        "nieobecność",
        "nieobecnośc",
        "nieobecnosć",
        "nieobecnosc",
    ),
    "ru": ("автоматический ответ", "автоответ", "нет на месте", "вне офиса"),
    "uk": ("автовідповідь", "автоматична відповідь", "поза офісом"),
    "sv": ("frånvaro", "franvaro", "frånvarande", "franvarande", "automatiskt svar", "inte på kontoret"),
    "no": ("fravær", "fraver", "fraværende", "fraverende", "automatisk svar", "autosvar", "ikke på kontoret"),
    "da": ("fravær", "fraværende", "automatisk svar", "autosvar", "ude af kontoret"),
    "fi": ("poissa", "poissa toimistolta", "automaattinen vastaus"),
    "cs": ("automatická odpověď", "mimo kancelář"),
    "tr": ("otomatik yanıt",),
    "ko": ("자동 회신", "자동회신", "자동 응답", "자동응답"),
    "zh": ("自动回复", "自动答复", "自動回覆", "自動回復", "不在办公室"),
    "ja": ("自動応答", "自動返信", "不在通知", "不在のお知らせ", "不在連絡", "不在"),
}

# A subject that starts with one of these (then its end or punctuation) is a delivery failure report.
BOUNCE_SUBJECTS: Words = {
    "en": (
        "undelivered mail returned to sender",
        "undelivered mail",
        "undeliverable",
        "undeliverable mail",
        "undeliverable message",
        "delivery status notification",
        "mail delivery failed",
        "mail delivery failure",
        "message delivery failure",
        "delivery failure",
        "delivery failure notification",
        "delivery has failed",
        "delivery notification: delivery has failed",
        "returned mail",
        "failure notice",
        "non-deliverable mail",
        "non deliverable mail",
        "nondeliverable mail",
        "mail system error - returned mail",
        "warning: could not send message",
        "delayed mail (still being retried)",
    ),
    # Exchange's localised non-delivery reports.
    "de": ("unzustellbar",),
    "fr": ("non remis",),
    "es": ("no se puede entregar",),
    "it": ("non recapitabile",),
    "pt": ("não entregue",),
    "nl": ("onbestelbaar",),
    "da": ("kan ikke leveres",),
    "no": ("kan ikke leveres",),
    "pl": ("niedostarczalne",),
    "ru": ("недоставлено", "не удается доставить"),
    "cs": ("nedoručitelné",),
}


def every(words: Words) -> tuple[str, ...]:
    """All the words of one kind, over its languages, each once, in a stable order."""
    return tuple(dict.fromkeys(word for group in words.values() for word in group))
