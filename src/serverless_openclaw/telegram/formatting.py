"""The model's Markdown -> what Telegram renders, cut into messages Telegram accepts.

Markdown is parsed (markdown-it, CommonMark + tables + strikethrough) into `RichText`: plain
text in runs, each run carrying the stack of Telegram HTML tags around it. Keeping text and
tags apart is what makes splitting safe: cut points are chosen in the plain text (the thing
Telegram's 4096 limit counts, in UTF-16 code units) on paragraph, line or word boundaries, and
each piece is serialised on its own, closing its tags at its end and reopening them in the
next one. No piece ever ends inside a tag or an entity, and a code block split in two is two
code blocks.

Telegram's nesting rules are kept by construction: `code`/`pre` never sit inside other tags,
blockquotes never nest. When Telegram still refuses the HTML, callers resend `plain_text`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from markdown_it import MarkdownIt
from markdown_it.token import Token

MESSAGE_LIMIT: Final = 4096
"""Characters Telegram allows in one message, counted after entity parsing (UTF-16 units)."""

_SAFE_LINK_SCHEMES: Final = ("http://", "https://", "tg://", "mailto:")
_MIN_FILL: Final = 0.3
"""A boundary is used only if the piece before it fills at least this share of the limit;
otherwise a weaker boundary later in the window is preferred over a tiny message."""


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (most emoji) count twice."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


# --- rich text -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Tag:
    name: str
    attrs: tuple[tuple[str, str], ...] = ()

    def open(self) -> str:
        attrs = "".join(f' {key}="{html.escape(value, quote=True)}"' for key, value in self.attrs)
        return f"<{self.name}{attrs}>"

    def close(self) -> str:
        return f"</{self.name}>"


BOLD: Final = Tag("b")
ITALIC: Final = Tag("i")
STRIKE: Final = Tag("s")
CODE: Final = Tag("code")
PRE: Final = Tag("pre")
QUOTE: Final = Tag("blockquote")


@dataclass(frozen=True)
class Run:
    text: str
    tags: tuple[Tag, ...] = ()
    """Outermost first."""


@dataclass(frozen=True)
class RichText:
    runs: tuple[Run, ...] = ()

    @property
    def plain_text(self) -> str:
        """What the person sees, without formatting; also the plain-text fallback."""
        return "".join(run.text for run in self.runs)

    def html(self) -> str:
        """Telegram HTML (parse_mode="HTML"), tags balanced and properly nested."""
        out: list[str] = []
        stack: tuple[Tag, ...] = ()
        for run in self.runs:
            common = 0
            while (
                common < len(stack) and common < len(run.tags) and stack[common] == run.tags[common]
            ):
                common += 1
            out.extend(tag.close() for tag in reversed(stack[common:]))
            out.extend(tag.open() for tag in run.tags[common:])
            stack = run.tags
            out.append(html.escape(run.text, quote=False))
        out.extend(tag.close() for tag in reversed(stack))
        return "".join(out)

    def slice(self, start: int, end: int) -> RichText:
        """The runs covering plain_text[start:end]."""
        runs: list[Run] = []
        position = 0
        for run in self.runs:
            run_end = position + len(run.text)
            low, high = max(start, position), min(end, run_end)
            if low < high:
                runs.append(Run(run.text[low - position : high - position], run.tags))
            position = run_end
            if position >= end:
                break
        return RichText(tuple(runs))


@dataclass(frozen=True)
class Chunk:
    """One Telegram message: `html` for parse_mode="HTML", `text` for plain-text fallback."""

    html: str
    text: str


# --- Markdown -> rich text -----------------------------------------------------------------
@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"]
    )


@dataclass
class _Builder:
    runs: list[Run] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    length: int = 0

    def text(self, text: str, *, tags: Sequence[Tag] | None = None) -> None:
        if not text:
            return
        run_tags = tuple(self.tags if tags is None else tags)
        if self.runs and self.runs[-1].tags == run_tags:
            self.runs[-1] = Run(self.runs[-1].text + text, run_tags)
        else:
            self.runs.append(Run(text, run_tags))
        self.length += len(text)

    def ends_with(self) -> str:
        tail = ""
        for run in reversed(self.runs):
            tail = run.text + tail
            if len(tail) >= 2:
                break
        return tail

    def separate(self, newlines: int) -> None:
        """Make the output end with at least `newlines` line breaks (nothing at the start)."""
        if self.length == 0:
            return
        tail = self.ends_with()
        have = len(tail) - len(tail.rstrip("\n"))
        if have < newlines:
            # Separators sit outside inline tags but inside the block container.
            self.text("\n" * (newlines - have), tags=[t for t in self.tags if t == QUOTE])


@dataclass
class _ListState:
    ordered: bool
    number: int


def _safe_href(href: str) -> str | None:
    return href if href.lower().startswith(_SAFE_LINK_SCHEMES) else None


def _render_inline(children: Iterable[Token], out: _Builder) -> None:
    for token in children:
        kind = token.type
        if kind == "text":
            out.text(token.content)
        elif kind in ("softbreak", "hardbreak"):
            out.text("\n")
        elif kind == "code_inline":
            # Telegram refuses code inside other entities: code stands alone.
            out.text(token.content, tags=[CODE])
        elif kind == "strong_open":
            out.tags.append(BOLD)
        elif kind == "em_open":
            out.tags.append(ITALIC)
        elif kind == "s_open":
            out.tags.append(STRIKE)
        elif kind == "link_open":
            href = _safe_href(str(token.attrs.get("href", "")))
            out.tags.append(Tag("a", (("href", href),)) if href else Tag(""))
        elif kind in ("strong_close", "em_close", "s_close", "link_close"):
            if out.tags:
                out.tags.pop()
        elif kind == "image":
            alt = token.content or "image"
            src = str(token.attrs.get("src", ""))
            out.text(f"{alt} ({src})" if src else alt)
        else:  # html_inline (html is off) and anything new: keep the words
            out.text(token.content)
    # Unclosed inline tags cannot survive a block boundary.
    while out.tags and out.tags[-1] != QUOTE:
        out.tags.pop()


def _clean_tags(runs: list[Run]) -> tuple[Run, ...]:
    """Drop the placeholder tags of refused links."""
    return tuple(Run(run.text, tuple(tag for tag in run.tags if tag.name)) for run in runs)


def render(markdown: str) -> RichText:
    """Markdown as Telegram shows it. Never raises on odd input: unknown syntax stays text."""
    out = _Builder()
    lists: list[_ListState] = []
    quote_depth = 0
    row: list[str] = []
    in_header = False
    tokens = _parser().parse(markdown)
    for index, token in enumerate(tokens):
        kind = token.type
        if kind == "paragraph_open":
            if not token.hidden:
                out.separate(2)
        elif kind == "heading_open":
            out.separate(2)
            out.tags.append(BOLD)
        elif kind == "heading_close":
            if out.tags and out.tags[-1] == BOLD:
                out.tags.pop()
        elif kind == "inline":
            parent = tokens[index - 1].type if index else ""
            if parent in ("th_open", "td_open"):
                cell = _Builder()
                _render_inline(token.children or [], cell)
                row.append("".join(run.text for run in cell.runs))
            else:
                _render_inline(token.children or [], out)
        elif kind in ("bullet_list_open", "ordered_list_open"):
            if not lists:
                out.separate(2)
            start = token.attrs.get("start", 1)
            lists.append(_ListState(kind == "ordered_list_open", int(start) - 1))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            if lists:
                lists.pop()
        elif kind == "list_item_open":
            out.separate(1)
            state = lists[-1] if lists else _ListState(False, 0)
            state.number += 1
            marker = f"{state.number}. " if state.ordered else "• "
            out.text("  " * (len(lists) - 1) + marker)
        elif kind == "blockquote_open":
            out.separate(2)
            quote_depth += 1
            if quote_depth == 1:
                out.tags.append(QUOTE)
        elif kind == "blockquote_close":
            quote_depth -= 1
            if quote_depth == 0 and QUOTE in out.tags:
                out.tags.remove(QUOTE)
        elif kind in ("fence", "code_block"):
            out.separate(2)
            language = token.info.strip().split(" ")[0] if token.info else ""
            code = Tag("code", (("class", f"language-{language}"),)) if language else CODE
            out.text(token.content.rstrip("\n") or " ", tags=[PRE, code])
        elif kind == "hr":
            out.separate(2)
            out.text("──────────")
        elif kind == "table_open":
            out.separate(2)
        elif kind in ("thead_open", "thead_close"):
            in_header = kind == "thead_open"
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            out.separate(1)
            out.text(" | ".join(row), tags=[*out.tags, BOLD] if in_header else None)
        elif kind == "html_block":
            out.separate(2)
            out.text(token.content.rstrip("\n"))
    runs = _clean_tags(out.runs)
    return RichText(_strip(runs))


def _strip(runs: tuple[Run, ...]) -> tuple[Run, ...]:
    """Telegram trims messages; trimming here keeps "not modified" comparisons honest."""
    items = list(runs)
    while items and not items[-1].text.rstrip():
        items.pop()
    if items:
        items[-1] = Run(items[-1].text.rstrip(), items[-1].tags)
    while items and not items[0].text.lstrip():
        items.pop(0)
    if items:
        items[0] = Run(items[0].text.lstrip(), items[0].tags)
    return tuple(items)


def plain(text: str) -> RichText:
    """Text shown exactly as given (errors, notices, the fallback)."""
    stripped = text.strip()
    return RichText((Run(stripped),) if stripped else ())


# --- splitting -----------------------------------------------------------------------------
def _window_end(text: str, start: int, limit: int) -> int:
    """The largest end such that text[start:end] fits in `limit` UTF-16 units."""
    units = 0
    for position in range(start, len(text)):
        units += 2 if ord(text[position]) > 0xFFFF else 1
        if units > limit:
            return position
    return len(text)


def _cut(text: str, start: int, end: int, limit: int) -> tuple[int, int]:
    """Where to end this piece and where the next one starts (the separator is dropped)."""
    floor = start + int(limit * _MIN_FILL)
    for separator in ("\n\n", "\n", " "):
        position = text.rfind(separator, floor, end)
        if position > start:
            return position, position + len(separator)
    return end, end


def split_points(text: str, limit: int = MESSAGE_LIMIT) -> list[tuple[int, int]]:
    """(start, end) of each piece of `text`, each at most `limit` UTF-16 units, skipping
    separators and pieces that would be only whitespace."""
    pieces: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = _window_end(text, start, limit)
        if end >= len(text):
            cut, following = len(text), len(text)
        else:
            cut, following = _cut(text, start, end, limit)
        if text[start:cut].strip():
            pieces.append((start, cut))
        start = following
    return pieces


def split(rich: RichText, limit: int = MESSAGE_LIMIT) -> list[Chunk]:
    """Messages in order, each within Telegram's limit, each valid HTML on its own."""
    text = rich.plain_text
    chunks: list[Chunk] = []
    for start, end in split_points(text, limit):
        piece = RichText(_strip(rich.slice(start, end).runs))
        chunks.append(Chunk(html=piece.html(), text=piece.plain_text))
    return chunks


def to_messages(markdown: str, limit: int = MESSAGE_LIMIT) -> list[Chunk]:
    """The usual path: a model reply -> Telegram messages."""
    return split(render(markdown), limit)


def plain_messages(text: str, limit: int = MESSAGE_LIMIT) -> list[Chunk]:
    """Text that must not be interpreted as Markdown (errors, notices), split the same way."""
    return split(plain(text), limit)
