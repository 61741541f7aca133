"""JSON bodies that cannot crash the API.

DRF's parser answers 500 to nesting deeper than Python's recursion limit (a 200 KB body of
brackets), and lets through strings PostgreSQL cannot store (NUL characters, lone UTF-16
surrogates such as "\\ud800"), which fail at the database. Both are a 400 parse error here,
for every JSON endpoint at once.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


def _bad_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_strings(document) -> None:
    pending = [document]
    while pending:  # iterative: the document may be as deep as the parser allowed
        item = pending.pop()
        if isinstance(item, str):
            if _bad_text(item):
                raise ParseError(
                    "JSON parse error - strings must be valid Unicode text without NUL "
                    "characters or lone surrogates."
                )
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        _check_strings(document)
        return document
