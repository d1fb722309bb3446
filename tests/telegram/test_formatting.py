"""Markdown -> Telegram HTML, and splitting into messages Telegram accepts.

Every piece is checked with the fake server's parser, which applies Telegram's HTML rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from serverless_openclaw.local.fake_telegram import parse_html
from serverless_openclaw.telegram.formatting import (
    MESSAGE_LIMIT,
    plain_messages,
    render,
    split_points,
    to_messages,
    utf16_len,
)


def _check(chunks_html: list[str], texts: list[str]) -> None:
    for markup, text in zip(chunks_html, texts, strict=True):
        visible, _ = parse_html(markup)
        assert visible == text
        assert 0 < utf16_len(visible) <= MESSAGE_LIMIT


def test_markdown_becomes_telegram_html() -> None:
    rich = render("# Plan\n\nUse **bold**, _it_, `x < y` and [docs](https://e.test/?a=1&b=2).")
    assert rich.html() == (
        "<b>Plan</b>\n\nUse <b>bold</b>, <i>it</i>, <code>x &lt; y</code> and "
        '<a href="https://e.test/?a=1&amp;b=2">docs</a>.'
    )
    assert rich.plain_text == "Plan\n\nUse bold, it, x < y and docs."


def test_code_block_keeps_its_text_and_language() -> None:
    rich = render("Run:\n\n```python\nif a < b and c > d:\n    print('&')\n```\n")
    assert '<pre><code class="language-python">' in rich.html()
    visible, entities = parse_html(rich.html())
    assert "if a < b and c > d:\n    print('&')" in visible
    assert {"type": "pre", "language": "python"}.items() <= entities[0].items()


def test_raw_html_and_unsafe_links_stay_text() -> None:
    rich = render("<script>alert(1)</script> [x](javascript:alert(1))")
    visible, entities = parse_html(rich.html())
    assert visible == "<script>alert(1)</script> [x](javascript:alert(1))"
    assert entities == []


def test_code_inside_bold_is_not_nested() -> None:
    # Telegram refuses code inside other entities; the renderer must never produce it.
    rich = render("**see `cfg.json` now**")
    parse_html(rich.html())
    assert rich.plain_text == "see cfg.json now"


def test_ten_thousand_characters_become_three_messages_in_order() -> None:
    words = [f"w{i:04d}" for i in range(2000)]  # 2000 * 5 chars = 10,000 with the spaces
    reply = " ".join(words)[:10_000]
    chunks = to_messages(reply)
    assert len(chunks) == 3
    _check([c.html for c in chunks], [c.text for c in chunks])
    assert " ".join(c.text for c in chunks) == reply
    assert all(not c.text.startswith(" ") and not c.text.endswith(" ") for c in chunks)


def test_splits_prefer_paragraphs_then_lines() -> None:
    paragraph = ("x" * 70 + "\n") * 20  # 1420 characters of lines
    reply = "\n\n".join([paragraph.strip()] * 5)
    chunks = plain_messages(reply)
    assert len(chunks) == 3
    for chunk in chunks:
        assert chunk.text.startswith("x") and chunk.text.endswith("x")
        assert chunk.text.count("\n\n") <= 1  # cut at a paragraph, not inside one
    assert "\n\n".join(c.text for c in chunks) == reply


def test_a_long_code_block_is_split_into_code_blocks() -> None:
    code = "\n".join(f"line_{i} = {i} < {i + 1}" for i in range(600))
    chunks = to_messages(f"```python\n{code}\n```")
    assert len(chunks) >= 3
    _check([c.html for c in chunks], [c.text for c in chunks])
    for chunk in chunks:
        assert chunk.html.startswith('<pre><code class="language-python">')
        assert chunk.html.endswith("</code></pre>")
    assert "\n".join(c.text for c in chunks) == code


def test_formatting_spanning_a_cut_is_closed_and_reopened() -> None:
    reply = "**" + ("bold words " * 800).strip() + "**"
    chunks = to_messages(reply)
    assert len(chunks) == 3
    for chunk in chunks:
        assert chunk.html.startswith("<b>") and chunk.html.endswith("</b>")
    _check([c.html for c in chunks], [c.text for c in chunks])


def test_escaping_does_not_count_against_the_limit() -> None:
    # 4000 visible characters, 20,000 characters of HTML: still one message.
    chunks = to_messages("&" * 4000)
    assert len(chunks) == 1
    assert len(chunks[0].html) == 5 * 4000


def test_emoji_count_twice() -> None:
    reply = "😀" * 3000  # 6000 UTF-16 units
    pieces = split_points(reply)
    assert len(pieces) == 2
    assert all(utf16_len(reply[a:b]) <= MESSAGE_LIMIT for a, b in pieces)


def test_hard_cut_when_there_is_no_boundary() -> None:
    reply = "a" * 9000
    chunks = plain_messages(reply)
    assert [len(c.text) for c in chunks] == [4096, 4096, 808]


_markdownish = st.text(
    alphabet=st.sampled_from(list("ab <>&*_`#-\n[]()~|!😀\\.1")) | st.characters(),
    max_size=12_000,
)


@settings(max_examples=60, deadline=None)
@given(_markdownish)
def test_any_text_splits_into_valid_messages(text: str) -> None:
    chunks = to_messages(text)
    _check([c.html for c in chunks], [c.text for c in chunks])
    fallback = plain_messages(text)
    _check([c.html for c in fallback], [c.text for c in fallback])
