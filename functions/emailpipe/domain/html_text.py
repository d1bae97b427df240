"""Convert email HTML to plain text with the stdlib parser, optionally dropping the quote structure mail clients add."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

from emailpipe.domain import reply_patterns as P

_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "basefont",
        "frame",
        "isindex",
    ]
)
# Content never shown to the reader.
_HIDDEN = frozenset(
    ["script", "style", "head", "title", "template", "noscript", "iframe", "object", "svg", "math", "xml"]
)
_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "li",
        "caption",
        "body",
        "html",
    ]
)
_PARAGRAPH = frozenset(["p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"])
# Tags that implicitly close an open tag of the same name (simplified HTML5 rules, enough for mail).
_SELF_CLOSING_PEERS = {
    "p": {"p"},
    "li": {"li"},
    "tr": {"tr"},
    "td": {"td", "th"},
    "th": {"td", "th"},
    "option": {"option"},
}
_WS_RE = re.compile(r"[ \t\n\r\f\v]+")
_MAX_DEPTH = 400  # deeper nesting is flattened; keeps the tree walk bounded on hostile input
MAX_TAGS = 60_000
_CHUNK = 65_536
MAX_OUTPUT_LINES = 20_000

# Quote markers, by client.
_CUT_IDS = frozenset(
    (
        "divrplyfwdmsg",
        "appendonsend",
        "olk_src_body_section",
        "stopspelling",
        "zwchr",
        "mail-editor-reference-message-container",
    )
)
_CUT_ID_PREFIXES = ("divrplyfwdmsg", "x_divrplyfwdmsg")
_CUT_CLASSES = ("outlookmessageheader", "ms-outlook-mobile-reference-message", "reference-message-container")
# Class names are matched as substrings because webmails prefix them when they re-render a message
# ("x_gmail_quote", "ydp3f2ayahoo_quoted", "ecxgmail_quote"), and case-insensitively (in the casefolded class).
_QUOTE_CLASSES = (
    "gmail_quote",
    "yahoo_quoted",
    "protonmail_quote",
    "moz-cite-prefix",
    "gmail_attr",
    "zmail_extra",
    "mailru_quote",
    "aolreplyheader",
    "spark_quote",
    "quote_container",
    "mail_android_quote",
    "readmsg-quote",
)
_QUOTE_NAMES = frozenset(("quote", "messagereplysection", "quoted-message"))
_BORDER_TOP_RE = re.compile(r"border-top(?:-style)?\s*:\s*(?:[^;]*\s)?solid|border-top\s*:[^;]*solid", re.IGNORECASE)
_FORWARD_TEXT_RE = P.FORWARDED_RE


class _Node:
    __slots__ = ("tag", "attrs", "children", "parent", "mark", "index")

    def __init__(self, tag: str, attrs: dict[str, str], parent: _Node | None) -> None:
        self.index = len(parent.children) if parent is not None else 0  # its place among its parent's children
        self.tag = tag
        self.attrs = attrs
        self.children: list[_Node | str] = []
        self.parent = parent
        self.mark = ""  # "", "drop" (remove), "quote" (remove, leave a '>' line), "cut" (remove it and all after)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {}, None)
        self.stack: list[_Node] = [self.root]
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count += 1
        peers = _SELF_CLOSING_PEERS.get(tag)
        if peers:
            for k in range(len(self.stack) - 1, max(0, len(self.stack) - 4), -1):
                if self.stack[k].tag in peers:
                    del self.stack[k:]
                    break
        parent = self.stack[-1]
        node = _Node(tag, {k: (v or "") for k, v in attrs}, parent)
        parent.children.append(node)
        if tag not in _VOID and len(self.stack) < _MAX_DEPTH:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count += 1
        parent = self.stack[-1]
        parent.children.append(_Node(tag, {k: (v or "") for k, v in attrs}, parent))

    def handle_endtag(self, tag: str) -> None:
        for k in range(len(self.stack) - 1, 0, -1):
            if self.stack[k].tag == tag:
                del self.stack[k:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _parse(markup: str) -> _Node:
    builder = _TreeBuilder()
    # Feed in chunks and stop after MAX_TAGS elements: the new text sits at the top, and html.parser costs
    # about 10 µs per tag, so this bounds the work on multi-megabyte bodies.
    for k in range(0, len(markup), _CHUNK):
        builder.feed(markup[k : k + _CHUNK])
        if builder.count > MAX_TAGS:
            break
    # HTMLParser.close() would flush an unterminated tag, comment or <script> body as text; instead keep only a
    # plain-text tail (e.g. one ending in an incomplete entity) and drop anything that starts like markup.
    rest = builder.rawdata
    if rest and not rest.lstrip().startswith("<") and builder.cdata_elem is None:
        builder.stack[-1].children.append(unescape(rest))
    return builder.root


def _text_lines_start(node: _Node, limit: int = 300) -> list[str]:
    parts: list[str] = []
    size = 0
    stack: list[_Node | str] = [node]
    while stack and size < limit:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            size += len(item)
            continue
        if item.tag in _HIDDEN:
            continue
        if item.tag == "br" or item.tag in _BLOCK:
            parts.append("\n")
        stack.extend(reversed(item.children))
    return [x.strip() for x in _WS_RE.sub(" ", "".join(parts).replace("\n", "\x00")).split("\x00") if x.strip()]


def _starts_with_header_fields(node: _Node) -> bool:
    lines = _text_lines_start(node)
    return bool(lines) and bool(P.FIELD_RE.match(lines[0][: P.MAX_LINE]))


def _mark_quotes(root: _Node) -> None:
    """Mark the quote structure of Gmail, Outlook, Apple Mail, Thunderbird, Yahoo, AOL, Zimbra, Mail.ru, Yandex."""
    plain_blockquotes: list[_Node] = []
    stack: list[tuple[_Node, bool, bool]] = [(root, False, False)]  # node, inside a div, inside a blockquote
    while stack:
        node, in_div, in_quote = stack.pop()
        attrs = node.attrs
        node_id = attrs.get("id", "").lower()
        classes = attrs.get("class", "")
        if (
            node_id in _CUT_IDS
            or node_id.startswith(_CUT_ID_PREFIXES)
            or (classes and any(c in classes.lower() for c in _CUT_CLASSES))
            or (
                node.tag == "div" and _BORDER_TOP_RE.search(attrs.get("style", "")) and _starts_with_header_fields(node)
            )
        ):
            node.mark = "cut"
            break  # everything after the first reply divider is history; later nodes are never rendered
        if classes and _has_quote_class(classes):
            if node.tag == "blockquote" and not in_div:
                # a lone blockquote.gmail_quote without Gmail's wrapper div is kept, as Gmail never sends that
                continue
            if not _is_forward(node):
                node.mark = "quote"
                continue
        elif node_id.startswith(("yahoo_quoted", "aolmsgpart")) or attrs.get("name", "").lower() in _QUOTE_NAMES:
            node.mark = "quote"
            continue
        elif node.tag == "blockquote" and not _follows_forward_marker(node):
            if attrs.get("type", "").lower() == "cite":
                node.mark = "quote"
                continue
            if not in_quote:
                plain_blockquotes.append(node)
        child_in_div = in_div or node.tag == "div"
        child_in_quote = in_quote or node.tag == "blockquote"
        for child in reversed(node.children):
            if isinstance(child, _Node):
                stack.append((child, child_in_div, child_in_quote))
    # A plain <blockquote> is history only when it is the last one (Mail.ru, Yandex, many webmails); earlier ones
    # are usually the sender's own citations, and the text rules still cut at an attribution line above them.
    if plain_blockquotes:
        plain_blockquotes[-1].mark = "quote"


def _has_quote_class(classes: str) -> bool:
    folded = classes.casefold()
    return any(name in folded for name in _QUOTE_CLASSES)


def _follows_forward_marker(node: _Node) -> bool:
    """Apple Mail's forward: "Begin forwarded message:" (or a translation) just above the blockquote that holds the
    forwarded email, which is content, not history."""
    parent = node.parent
    if parent is None:
        return False
    siblings = parent.children
    at = node.index
    for k in range(at - 1, max(-1, at - 6), -1):
        sibling = siblings[k]
        if isinstance(sibling, str):
            if not sibling.strip():
                continue
            lines = [sibling.strip()]
        elif sibling.tag == "br":
            continue
        else:
            lines = _text_lines_start(sibling, 200)
            if not lines:
                continue
        return bool(P.FORWARDED_RE.match(lines[-1][:200]))
    return False


def _is_forward(node: _Node) -> bool:
    """Return True when a Gmail quote block is a forwarded message (content, not history)."""
    lines = _text_lines_start(node, 200)
    return bool(lines) and bool(P.FORWARDED_RE.match(lines[0][:200]))


class _TextWriter:
    """Accumulates lines; block boundaries end the current line, <br> always starts a new one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []

    def text(self, data: str, pre: bool) -> None:
        if pre:
            chunks = data.split("\n")
            for k, chunk in enumerate(chunks):
                if k:
                    self.newline()
                if chunk:
                    self.current.append(chunk)
            return
        data = _WS_RE.sub(" ", data)
        if not data:
            return
        if not self.current or self.current[-1].endswith(" "):
            data = data.lstrip(" ")
        if data:
            self.current.append(data)

    def newline(self) -> None:
        self.lines.append("".join(self.current).rstrip())
        self.current = []

    def block(self) -> None:
        if self.current and "".join(self.current).strip():
            self.newline()
        else:
            self.current = []

    def paragraph(self) -> None:
        self.block()
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def line(self, text: str) -> None:
        self.block()
        self.lines.append(text)

    def result(self) -> str:
        self.block()
        return "\n".join(self.lines).replace("\xa0", " ")


def _render(root: _Node, *, honour_marks: bool) -> str:
    out = _TextWriter()
    # Stack items: a node to open, a string of text, or ("close", node).
    stack: list[object] = [root]
    pre_depth = 0
    list_counters: list[int] = []
    while stack and len(out.lines) < MAX_OUTPUT_LINES:
        item = stack.pop()
        if isinstance(item, str):
            out.text(item, pre_depth > 0)
            continue
        if isinstance(item, tuple):
            node = item[1]
            tag = node.tag
            if tag == "pre":
                pre_depth -= 1
            if tag in ("ul", "ol") and list_counters:
                list_counters.pop()
            if tag in _PARAGRAPH and "msonormal" not in node.attrs.get("class", "").lower():
                out.paragraph()
            elif tag in _BLOCK:
                out.block()
            continue
        node = item
        assert isinstance(node, _Node)
        tag = node.tag
        if tag in _HIDDEN:
            continue
        if honour_marks and node.mark:
            if node.mark == "cut":
                break
            if node.mark == "quote":
                out.line(">")
            continue
        if tag == "br":
            out.newline()
            continue
        if tag == "hr":
            out.line(P.HR_MARK)
            continue
        if tag in ("td", "th"):
            out.text(" ", False)
        if tag in _PARAGRAPH and "msonormal" not in node.attrs.get("class", "").lower():
            out.paragraph()
        elif tag in _BLOCK:
            out.block()
        if tag == "pre":
            pre_depth += 1
        if tag in ("ul", "ol"):
            list_counters.append(0 if tag == "ol" else -1)
        if tag == "li":
            if list_counters and list_counters[-1] >= 0:
                list_counters[-1] += 1
                out.text(f"{list_counters[-1]}. ", False)
            else:
                out.text("- ", False)
        stack.append(("close", node))
        stack.extend(reversed(node.children))
    return out.result()


def html_to_text(html: str, *, drop_quotes: bool = False) -> str:
    """Render HTML as plain text; with drop_quotes, client quote blocks become '>' lines and dividers end the text."""
    root = _parse(html)
    if drop_quotes:
        _mark_quotes(root)
    text = _render(root, honour_marks=drop_quotes)
    return text


def strip_markers(text: str) -> str:
    """Replace internal <hr> markers with blank lines."""
    return text.replace(P.HR_MARK, "")
