"""HttpRule path templates: parse once, match many (google/api/http.proto grammar).

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;
    Verb     = ":" LITERAL ;

``{x}`` is ``{x=*}``. ``**`` matches zero or more segments and must be the last segment.
Matching works on the raw (still percent-encoded) path, so an encoded ``/`` never splits
a segment. Decoding follows http.proto: a single-segment variable is fully decoded; a
multi-segment one is decoded except ``%2F``/``%2f``, which stay encoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import unquote

_LITERAL = re.compile(r"[^/{}*:=]+")
_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_ENCODED_SLASH = re.compile(r"%2[Ff]")


class TemplateSyntaxError(ValueError):
    """A path template that does not follow the HttpRule grammar."""


class SegmentKind(Enum):
    LITERAL = "literal"
    SINGLE = "*"
    DEEP = "**"


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    literal: str = ""

    def __str__(self) -> str:
        return self.literal if self.kind is SegmentKind.LITERAL else self.kind.value


@dataclass(frozen=True, slots=True)
class Variable:
    """A field path bound to path segments ``[start, end)``; ``end`` None means 'to the end'."""

    field_path: str
    start: int
    end: int | None
    segments: tuple[Segment, ...]

    @property
    def is_single_segment(self) -> bool:
        return len(self.segments) == 1 and self.segments[0].kind is SegmentKind.SINGLE

    @property
    def pattern(self) -> str:
        return "/".join(str(s) for s in self.segments)


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A compiled template. ``source`` keeps the text as written in the proto."""

    source: str
    segments: tuple[Segment, ...]
    variables: tuple[Variable, ...]
    verb: str | None
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _compile(self.segments, self.variables, self.verb))

    @property
    def first_literal(self) -> str | None:
        first = self.segments[0] if self.segments else None
        return first.literal if first is not None and first.kind is SegmentKind.LITERAL else None

    @property
    def has_deep_wildcard(self) -> bool:
        return bool(self.segments) and self.segments[-1].kind is SegmentKind.DEEP

    @property
    def specificity(self) -> tuple[int, ...]:
        """Sort key, most specific first: literals beat ``*`` beat ``**`` segment by segment; a verb wins."""
        rank = {SegmentKind.LITERAL: 0, SegmentKind.SINGLE: 1, SegmentKind.DEEP: 2}
        return (0 if self.verb else 1, *(rank[s.kind] for s in self.segments))

    def match(self, raw_path: str) -> dict[str, str] | None:
        """Bindings (field path → decoded value) if ``raw_path`` matches, else None.

        ``raw_path`` is the request path without the query string, still percent-encoded.
        """
        found = self.regex.match(raw_path)
        if found is None:
            return None
        bindings: dict[str, str] = {}
        for index, variable in enumerate(self.variables):
            raw = found.group(f"v{index}") or ""
            bindings[variable.field_path] = unquote(raw) if variable.is_single_segment else _decode_multi_segment(raw)
        return bindings


def _compile(segments: tuple[Segment, ...], variables: tuple[Variable, ...], verb: str | None) -> re.Pattern[str]:
    """One anchored regex per template, so a literal mismatch fails inside the C regex engine."""
    opens = {v.start: index for index, v in enumerate(variables)}
    closes = {(v.end if v.end is not None else len(segments)) - 1 for v in variables}
    pattern = ["^"]
    for position, segment in enumerate(segments):
        group = opens.get(position)
        if segment.kind is SegmentKind.DEEP:
            # Zero or more segments: the separator is part of the optional tail.
            pattern.append(f"(?:/(?P<v{group}>.*))?" if group is not None else "(?:/.*)?")
            if group is None and position in closes:
                pattern.append(")")
            continue
        pattern.append("/")
        if group is not None:
            pattern.append(f"(?P<v{group}>")
        pattern.append(re.escape(segment.literal) if segment.kind is SegmentKind.LITERAL else "[^/]+")
        if position in closes:
            pattern.append(")")
    if verb is not None:
        pattern.append(re.escape(":" + verb))
    pattern.append("$")
    return re.compile("".join(pattern), re.DOTALL)


def _decode_multi_segment(raw: str) -> str:
    """Percent-decode everything but ``%2F``: an encoded slash stays distinguishable from a separator."""
    pieces = _ENCODED_SLASH.split(raw)
    slashes = _ENCODED_SLASH.findall(raw)
    out = [unquote(pieces[0])]
    for slash, piece in zip(slashes, pieces[1:]):
        out.append(slash)
        out.append(unquote(piece))
    return "".join(out)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.segments: list[Segment] = []
        self.variables: list[Variable] = []

    def fail(self, why: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(f"{why} at offset {self.pos} in path template {self.source!r}")

    def peek(self) -> str:
        return self.source[self.pos] if self.pos < len(self.source) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def parse(self) -> PathTemplate:
        self.expect("/")
        self.parse_segments(self.segments, in_variable=False)
        verb = None
        if self.peek() == ":":
            self.pos += 1
            verb = self.take_literal()
        if self.pos != len(self.source):
            raise self.fail("unexpected character")
        for index, segment in enumerate(self.segments):
            if segment.kind is SegmentKind.DEEP and index != len(self.segments) - 1:
                raise self.fail("'**' must be the last segment")
        return PathTemplate(self.source, tuple(self.segments), tuple(self.variables), verb)

    def parse_segments(self, into: list[Segment], *, in_variable: bool) -> None:
        while True:
            self.parse_segment(into, in_variable=in_variable)
            if self.peek() != "/":
                return
            self.pos += 1

    def parse_segment(self, into: list[Segment], *, in_variable: bool) -> None:
        if self.source.startswith("**", self.pos):
            self.pos += 2
            into.append(Segment(SegmentKind.DEEP))
        elif self.peek() == "*":
            self.pos += 1
            into.append(Segment(SegmentKind.SINGLE))
        elif self.peek() == "{":
            if in_variable:
                raise self.fail("nested variable")
            self.parse_variable()
        else:
            into.append(Segment(SegmentKind.LITERAL, self.take_literal()))

    def parse_variable(self) -> None:
        self.expect("{")
        match = _FIELD_PATH.match(self.source, self.pos)
        if match is None:
            raise self.fail("expected a field path")
        field_path = match.group(0)
        self.pos = match.end()
        inner: list[Segment] = []
        if self.peek() == "=":
            self.pos += 1
            self.parse_segments(inner, in_variable=True)
        else:
            inner.append(Segment(SegmentKind.SINGLE))
        self.expect("}")
        if any(v.field_path == field_path for v in self.variables):
            raise self.fail(f"field {field_path!r} bound twice")
        start = len(self.segments)
        self.segments.extend(inner)
        deep = inner[-1].kind is SegmentKind.DEEP
        self.variables.append(Variable(field_path, start, None if deep else len(self.segments), tuple(inner)))

    def take_literal(self) -> str:
        match = _LITERAL.match(self.source, self.pos)
        if match is None:
            raise self.fail("expected a literal")
        self.pos = match.end()
        return match.group(0)


def parse_template(source: str) -> PathTemplate:
    """Compile an HttpRule path template; raises TemplateSyntaxError."""
    return _Parser(source).parse()
