"""HTML -> plain text for PidTagBody when a message carries only HTML (MS-OXCMAIL 2.2.4).

A reader that must show *something* — Outlook previews, ActiveSync plain-text
bodies — needs PidTagBody. This is a small, forgiving rendering with the stdlib
parser: block elements break lines, scripts and styles vanish, entities decode.
"""

from __future__ import annotations

import html.parser
import re

_BLOCKS = frozenset(
    {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote",
     "pre", "hr", "ul", "ol", "dl", "dt", "dd", "section", "article", "header", "footer"}
)
_SKIP = frozenset({"script", "style", "head", "title"})


class _TextExtractor(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str, max_chars: int = 4 << 20) -> str:
    """Readable text of an HTML document; never raises."""
    parser = _TextExtractor()
    try:
        parser.feed(markup[:max_chars])
        parser.close()
    except (AssertionError, ValueError):  # older parsers assert on broken markup
        pass
    text = "".join(parser.out)
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
