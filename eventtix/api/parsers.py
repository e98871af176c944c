"""The API's JSON parser."""

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing nesting too deep for Python's decoder with a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json.loads recurses once per level: '[' * 100_000 exhausts the stack.
            raise ParseError(_("JSON parse error - nested too deeply.")) from None
