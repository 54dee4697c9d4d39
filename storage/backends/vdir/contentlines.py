"""iCalendar (RFC 5545 3.1) and vCard (RFC 6350 3.3) content lines, kept editable.

The vdir backend never rebuilds a file another program wrote: it parses it into a
tree of components and lines, changes only the lines for the properties it maps,
and writes the rest back as it was (alarms, recurrence rules, attendees, X- lines
and vendor data survive an edit made in Outlook). This module is that tree, with the
value escaping both formats share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LINE_OCTETS = 75
MAX_DEPTH = 16
MAX_LINES = 100_000


class ContentError(ValueError):
    """The text is not a well-formed iCalendar/vCard object."""


@dataclass
class Line:
    """One unfolded content line. ``group`` is a vCard group (``item1`` in
    ``item1.EMAIL``); ``raw`` keeps the original text until the line is changed."""

    name: str
    params: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    group: str = ""
    raw: str | None = None

    def param(self, name: str) -> str | None:
        name = name.upper()
        for key, value in self.params:
            if key.upper() == name:
                return value
        return None

    def param_values(self, name: str) -> list[str]:
        """All values of a parameter, comma lists split, upper-cased (TYPE=work,voice)."""
        name = name.upper()
        out: list[str] = []
        for key, value in self.params:
            if key.upper() == name:
                out.extend(v.strip().upper() for v in value.split(","))
        return out

    def set_value(self, value: str, params: list[tuple[str, str]] | None = None) -> None:
        self.value = value
        if params is not None:
            self.params = params
        self.raw = None

    def render(self) -> str:
        if self.raw is not None:
            return self.raw
        out = f"{self.group}.{self.name}" if self.group else self.name
        for key, value in self.params:
            quoted = value
            if any(c in value for c in ':;,') and not value.startswith('"'):
                quoted = f'"{value}"'
            out += f";{key}={quoted}"
        return f"{out}:{self.value}"


@dataclass
class Component:
    name: str
    items: list[Line | Component] = field(default_factory=list)

    def lines(self, name: str) -> list[Line]:
        name = name.upper()
        return [i for i in self.items if isinstance(i, Line) and i.name == name]

    def first(self, name: str) -> Line | None:
        found = self.lines(name)
        return found[0] if found else None

    def components(self, name: str | None = None) -> list[Component]:
        return [i for i in self.items if isinstance(i, Component)
                and (name is None or i.name == name.upper())]

    def remove(self, name: str) -> bool:
        name = name.upper()
        before = len(self.items)
        self.items = [i for i in self.items if not (isinstance(i, Line) and i.name == name)]
        return len(self.items) != before

    def set(self, name: str, value: str, params: list[tuple[str, str]] | None = None) -> bool:
        """Set the first ``name`` line (adding it before sub-components); True if changed."""
        line = self.first(name)
        if line is not None:
            if line.value == value and (params is None or params == line.params):
                return False
            line.set_value(value, params)
            return True
        new = Line(name.upper(), list(params or []), value)
        index = next((n for n, i in enumerate(self.items) if isinstance(i, Component)),
                     len(self.items))
        self.items.insert(index, new)
        return True


def unfold(text: str) -> list[str]:
    """Logical lines: CRLF or LF line ends, continuation lines start with space/tab."""
    lines: list[str] = []
    for physical in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if physical[:1] in (" ", "\t") and lines:
            lines[-1] += physical[1:]
        elif physical.strip():
            lines.append(physical)
        if len(lines) > MAX_LINES:
            raise ContentError("too many lines")
    return lines


def parse_line(text: str) -> Line:
    i = 0
    n = len(text)
    while i < n and text[i] not in ";:":
        i += 1
    if i == n:
        raise ContentError(f"no ':' in line {text[:60]!r}")
    full_name = text[:i]
    group, dot, name = full_name.rpartition(".")
    if not dot:
        group, name = "", full_name
    params: list[tuple[str, str]] = []
    while i < n and text[i] == ";":
        i += 1
        start = i
        while i < n and text[i] not in "=;:":
            i += 1
        key = text[start:i]
        value = ""
        if i < n and text[i] == "=":
            i += 1
            start = i
            quoted = False
            while i < n and (quoted or text[i] not in ";:"):
                if text[i] == '"':
                    quoted = not quoted
                i += 1
            value = text[start:i]
            if len(value) >= 2 and value[0] == value[-1] == '"' and '"' not in value[1:-1]:
                value = value[1:-1]
        params.append((key, value))
    if i >= n or text[i] != ":":
        raise ContentError(f"no value in line {text[:60]!r}")
    if not name:
        raise ContentError(f"empty property name in {text[:60]!r}")
    return Line(name.upper(), params, text[i + 1:], group, raw=text)


def parse(text: str) -> Component:
    """The one top-level object of a file (VCALENDAR or VCARD)."""
    stack: list[Component] = []
    top: Component | None = None
    for raw in unfold(text):
        line = parse_line(raw)
        if line.name == "BEGIN":
            comp = Component(line.value.strip().upper())
            if stack:
                stack[-1].items.append(comp)
            elif top is not None:
                raise ContentError("more than one object in the file")
            else:
                top = comp
            stack.append(comp)
            if len(stack) > MAX_DEPTH:
                raise ContentError("components nested too deeply")
        elif line.name == "END":
            if not stack or stack[-1].name != line.value.strip().upper():
                raise ContentError(f"unbalanced END:{line.value}")
            stack.pop()
        elif stack:
            stack[-1].items.append(line)
        else:
            raise ContentError(f"line outside BEGIN/END: {raw[:60]!r}")
    if top is None or stack:
        raise ContentError("no complete BEGIN/END object")
    return top


def fold(line: str) -> str:
    """Fold one logical line at 75 octets without splitting a UTF-8 sequence."""
    data = line.encode("utf-8")
    if len(data) <= MAX_LINE_OCTETS:
        return line + "\r\n"
    out: list[str] = []
    limit = MAX_LINE_OCTETS
    current = ""
    size = 0
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = "", 0, MAX_LINE_OCTETS - 1
        current += ch
        size += width
    out.append(current)
    return "\r\n ".join(out) + "\r\n"


def serialize(comp: Component) -> str:
    out = [fold(f"BEGIN:{comp.name}")]
    for item in comp.items:
        if isinstance(item, Component):
            out.append(serialize(item))
        else:
            out.append(fold(item.render()))
    out.append(fold(f"END:{comp.name}"))
    return "".join(out)


def escape_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def unescape_text(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def split_structured(value: str) -> list[str]:
    """A structured value (vCard N, ORG) split on unescaped ``;``, unescaped."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            current.append(value[i:i + 2])
            i += 2
            continue
        if ch == ";":
            parts.append(unescape_text("".join(current)))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append(unescape_text("".join(current)))
    return parts


def join_structured(parts: list[str]) -> str:
    return ";".join(escape_text(p) for p in parts)
