"""The PromQL lexer, following Prometheus 2.42's state machine (promql/parser/lex.go).

It produces the same tokens for the same input — durations are recognised anywhere a
number could start, keywords are case-insensitive, label names inside braces are never
keywords, ``inf`` and ``nan`` are numbers — so that the parser accepts exactly the
queries Prometheus accepts. A lexing error ends the token stream with an ``ERROR``
token carrying Prometheus's message.
"""

from __future__ import annotations

from typing import NamedTuple

AGGREGATORS = {
    "sum": "SUM", "avg": "AVG", "count": "COUNT", "min": "MIN", "max": "MAX",
    "group": "GROUP", "stddev": "STDDEV", "stdvar": "STDVAR", "topk": "TOPK",
    "bottomk": "BOTTOMK", "count_values": "COUNT_VALUES", "quantile": "QUANTILE",
}
KEYWORDS = {
    "and": "LAND", "or": "LOR", "unless": "LUNLESS", "atan2": "ATAN2",
    **AGGREGATORS,
    "offset": "OFFSET", "by": "BY", "without": "WITHOUT", "on": "ON",
    "ignoring": "IGNORING", "group_left": "GROUP_LEFT", "group_right": "GROUP_RIGHT",
    "bool": "BOOL", "start": "START", "end": "END",
    "inf": "NUMBER", "nan": "NUMBER",
}

_SPACE = " \t\n\r"
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"


class Token(NamedTuple):
    typ: str
    pos: int  # character offset in the query
    val: str


def is_alpha(char: str) -> bool:
    return char == "_" or ("a" <= char <= "z") or ("A" <= char <= "Z")


def is_alnum(char: str) -> bool:
    return is_alpha(char) or ("0" <= char <= "9")


def is_label(text: str) -> bool:
    return bool(text) and is_alpha(text[0]) and all(is_alnum(c) for c in text[1:])


def go_rune_quote(char: str) -> str:
    """Go's %q of a rune: ``'x'``."""
    if char == "'":
        return "'\\''"
    if char == "\\":
        return "'\\\\'"
    if char.isprintable():
        return f"'{char}'"
    return f"'\\x{ord(char):02x}'" if ord(char) < 0x80 else f"'\\u{ord(char):04x}'"


class _LexError(Exception):
    def __init__(self, pos: int, message: str) -> None:
        self.pos = pos
        self.message = message


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.tokens: list[Token] = []
        self.paren_depth = 0
        self.brace_open = False
        self.bracket_open = False
        self.got_colon = False

    # -- character helpers (EOF is the empty string) --------------------------------

    def next(self) -> str:
        if self.pos >= len(self.text):
            self.pos += 1  # so that backup() after EOF is harmless
            return ""
        char = self.text[self.pos]
        self.pos += 1
        return char

    def backup(self) -> None:
        self.pos -= 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def accept(self, valid: str) -> bool:
        char = self.next()
        if char and char in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while self.accept(valid):
            pass

    def emit(self, typ: str) -> None:
        self.tokens.append(Token(typ, self.start, self.text[self.start:self.pos]))
        self.start = self.pos

    def error(self, message: str) -> _LexError:
        return _LexError(self.start, message)

    # -- states ----------------------------------------------------------------------

    def run(self) -> list[Token]:
        try:
            while True:
                done = self.inside_braces() if self.brace_open else self.statements()
                if done:
                    break
        except _LexError as error:
            self.tokens.append(Token("ERROR", error.pos, error.message))
        return self.tokens

    def skip_comment(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] not in "\r\n":
            self.pos += 1
        self.start = self.pos  # comments are dropped, as the parser does

    def statements(self) -> bool:
        if self.text.startswith("#", self.pos):
            self.skip_comment()
            return False
        char = self.next()
        if char == "":
            self.pos = len(self.text)
            if self.paren_depth != 0:
                raise self.error("unclosed left parenthesis")
            if self.bracket_open:
                raise self.error("unclosed left bracket")
            self.start = self.pos
            self.emit("EOF")
            return True
        if char in _SPACE:
            self.skip_spaces()
        elif char in ",*/%+-^@":
            self.emit({",": "COMMA", "*": "MUL", "/": "DIV", "%": "MOD", "+": "ADD",
                       "-": "SUB", "^": "POW", "@": "AT"}[char])
        elif char == "=":
            nxt = self.peek()
            if nxt == "=":
                self.next()
                self.emit("EQLC")
            elif nxt == "~":
                raise self.error(f"unexpected character after '=': {go_rune_quote(nxt)}")
            else:
                self.emit("EQL")
        elif char == "!":
            nxt = self.next()
            if nxt == "=":
                self.emit("NEQ")
            else:
                raise self.error(f"unexpected character after '!': {go_rune_quote(nxt)}")
        elif char in "<>":
            if self.peek() == "=":
                self.next()
                self.emit("LTE" if char == "<" else "GTE")
            else:
                self.emit("LSS" if char == "<" else "GTR")
        elif char in _DIGITS or (char == "." and self.peek() != ""
                                 and self.peek() in _DIGITS):
            self.backup()
            self.number_or_duration()
        elif char in "\"'":
            self.string(char)
        elif char == "`":
            self.raw_string()
        elif is_alpha(char) or char == ":":
            if not self.bracket_open:
                self.backup()
                self.keyword_or_identifier()
            else:
                if self.got_colon:
                    raise self.error(f"unexpected colon {go_rune_quote(char)}")
                self.emit("COLON")
                self.got_colon = True
        elif char == "(":
            self.emit("LEFT_PAREN")
            self.paren_depth += 1
        elif char == ")":
            self.emit("RIGHT_PAREN")
            self.paren_depth -= 1
            if self.paren_depth < 0:
                raise self.error(f"unexpected right parenthesis {go_rune_quote(char)}")
        elif char == "{":
            self.emit("LEFT_BRACE")
            self.brace_open = True
        elif char == "[":
            if self.bracket_open:
                raise self.error(f"unexpected left bracket {go_rune_quote(char)}")
            self.got_colon = False
            self.emit("LEFT_BRACKET")
            self.skip_spaces()
            self.bracket_open = True
            self.duration()
        elif char == "]":
            if not self.bracket_open:
                raise self.error(f"unexpected right bracket {go_rune_quote(char)}")
            self.emit("RIGHT_BRACKET")
            self.bracket_open = False
        else:
            raise self.error(f"unexpected character: {go_rune_quote(char)}")
        return False

    def inside_braces(self) -> bool:
        if self.text.startswith("#", self.pos):
            self.skip_comment()
            return False
        char = self.next()
        if char == "":
            self.pos = len(self.text)
            raise self.error("unexpected end of input inside braces")
        if char in _SPACE:
            self.skip_spaces()
        elif is_alpha(char):
            while is_alnum(self.next()):
                pass
            self.backup()
            self.emit("IDENTIFIER")
        elif char == ",":
            self.emit("COMMA")
        elif char in "\"'":
            self.string(char)
        elif char == "`":
            self.raw_string()
        elif char == "=":
            if self.next() == "~":
                self.emit("EQL_REGEX")
            else:
                self.backup()
                self.emit("EQL")
        elif char == "!":
            nxt = self.next()
            if nxt == "~":
                self.emit("NEQ_REGEX")
            elif nxt == "=":
                self.emit("NEQ")
            else:
                raise self.error(
                    f"unexpected character after '!' inside braces: {go_rune_quote(nxt)}")
        elif char == "{":
            raise self.error(f"unexpected left brace {go_rune_quote(char)}")
        elif char == "}":
            self.emit("RIGHT_BRACE")
            self.brace_open = False
        else:
            raise self.error(f"unexpected character inside braces: {go_rune_quote(char)}")
        return False

    def skip_spaces(self) -> None:
        while self.peek() != "" and self.peek() in _SPACE:
            self.pos += 1
        self.start = self.pos

    def string(self, quote: str) -> None:
        while True:
            char = self.next()
            if char == "\\":
                self.escape(quote)
            elif char == "" or char == "\n":
                raise self.error("unterminated quoted string")
            elif char == quote:
                break
        self.emit("STRING")

    def escape(self, quote: str) -> None:
        char = self.next()
        if char in ("a", "b", "f", "n", "r", "t", "v", "\\", quote) and char:
            return
        if char and char in "01234567":
            count, base, limit = 3, 8, 255
        elif char == "x":
            char = self.next()
            count, base, limit = 2, 16, 255
        elif char == "u":
            char = self.next()
            count, base, limit = 4, 16, 0x10FFFF
        elif char == "U":
            char = self.next()
            count, base, limit = 8, 16, 0x10FFFF
        elif char == "":
            raise self.error("escape sequence not terminated")
        else:
            raise self.error(f"unknown escape sequence U+{ord(char):04X} {go_rune_quote(char)}")
        value = 0
        while count > 0:
            digit = int(char, 16) if char and char in _HEX else 16
            if digit >= base:
                if char == "":
                    raise self.error("escape sequence not terminated")
                raise self.error(
                    f"illegal character U+{ord(char):04X} {go_rune_quote(char)} in escape sequence")
            value = value * base + digit
            count -= 1
            if count > 0:
                char = self.next()
        if value > limit or 0xD800 <= value < 0xE000:
            raise self.error("escape sequence is an invalid Unicode code point")

    def raw_string(self) -> None:
        while True:
            char = self.next()
            if char == "":
                raise self.error("unterminated raw string")
            if char == "`":
                break
        self.emit("STRING")

    def scan_number(self) -> bool:
        digits = _DIGITS
        if self.accept("0") and self.accept("xX"):
            digits = _HEX
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if self.accept("eE"):
            self.accept("+-")
            self.accept_run(_DIGITS)
        return not is_alnum(self.peek()) if self.peek() else True

    def accept_remaining_duration(self) -> bool:
        if not self.accept("smhdwy"):
            return False
        self.accept("s")  # for "ms"; bad units like "hs" are caught when parsing
        while self.accept(_DIGITS):
            self.accept_run(_DIGITS)
            if not self.accept("smhdw"):
                return False
            self.accept("s")
        char = self.next()
        return not (char and is_alnum(char))

    def duration(self) -> None:
        if self.scan_number():
            raise self.error("missing unit character in duration")
        if not self.accept_remaining_duration():
            raise self.error(f"bad duration syntax: {self.quote_pending()}")
        self.backup()
        self.emit("DURATION")

    def number_or_duration(self) -> None:
        if self.scan_number():
            self.emit("NUMBER")
            return
        if self.accept_remaining_duration():
            self.backup()
            self.emit("DURATION")
            return
        raise self.error(f"bad number or duration syntax: {self.quote_pending()}")

    def quote_pending(self) -> str:
        from watchdeck.core.engine.promql.gomath import go_quote

        return go_quote(self.text[self.start:min(self.pos, len(self.text))])

    def keyword_or_identifier(self) -> None:
        while True:
            char = self.next()
            if char and (is_alnum(char) or char == ":"):
                continue
            self.backup()
            break
        word = self.text[self.start:self.pos]
        keyword = KEYWORDS.get(word.lower())
        if keyword is not None:
            self.emit(keyword)
        elif ":" not in word:
            self.emit("IDENTIFIER")
        else:
            self.emit("METRIC_IDENTIFIER")


def lex(text: str) -> list[Token]:
    """All tokens of ``text``, ending with ``EOF`` or ``ERROR``."""
    return Lexer(text).run()
