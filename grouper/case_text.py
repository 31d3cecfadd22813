"""One case typed by hand, as the ``explain`` commands take it: ``gender=1; age=45; dx=A|B; proc=C`` or JSON."""

from __future__ import annotations

import json

from drgdip.core.errors import UsageError

__all__ = ["parse_case_text"]


def parse_case_text(text: str) -> dict:
    """``gender=1; age=45; dx=A|B; proc=C`` or a JSON object -> field dict."""
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"--case is not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise UsageError("--case JSON must be an object")
        return value
    case = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise UsageError(f"--case item {part.strip()!r} is not field=value")
        key, value = part.split("=", 1)
        case[key.strip()] = value.strip()
    return case
