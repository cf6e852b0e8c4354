"""A small element tree of a report, from the standard library's HTML parser, for the tests to query.

Parsing fails (``AssertionError``) on an end tag that closes nothing open or leaves an element
unclosed, so "the HTML parses" means it is well nested, not only that a lenient parser got through.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)  # text and elements, in document order

    def iter(self, tag: str | None = None, cls: str | None = None):
        """Every descendant (self included) with ``tag`` and the class ``cls``, in document order."""
        if (tag is None or self.tag == tag) and (cls is None or cls in self.attrs.get("class", "").split()):
            yield self
        for child in self.elements:
            yield from child.iter(tag, cls)

    def find(self, tag: str | None = None, cls: str | None = None, id: str | None = None) -> Element:
        for element in self.iter(tag, cls):
            if id is None or element.attrs.get("id") == id:
                return element
        raise AssertionError(f"no <{tag} class={cls!r} id={id!r}>")

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return list(self.iter(tag, cls))

    @property
    def elements(self) -> list[Element]:
        return [child for child in self.children if isinstance(child, Element)]

    @property
    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text for child in self.children)


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], f"unclosed: {[e.tag for e in builder.stack[1:]]}"
    return builder.root


def decoded_size(src: str) -> tuple[int, int]:
    """Width and height of an inline PNG ``src``: it must be a data URI that PIL can decode."""
    from PIL import Image

    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:60]
    with Image.open(io.BytesIO(base64.b64decode(src[len(prefix):]))) as image:
        image.load()
        return image.size
