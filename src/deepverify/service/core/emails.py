"""E-mail addresses as accounts store and compare them, whichever way they arrive."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import BeforeValidator, StringConstraints, TypeAdapter, ValidationError

# Invisible characters that make look-alike addresses: zero-width space/joiners, word joiner, BOM.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def normalise_email(value: str) -> str:
    """The form an e-mail is stored and compared in: NFKC, no invisible characters, lower case.

    ``josé`` typed precomposed or with a combining accent, with a zero-width space or in
    upper case is one address, so it can be one account only.
    """
    return unicodedata.normalize("NFKC", value).translate(_INVISIBLE).strip().lower()


Email = Annotated[
    str,
    BeforeValidator(lambda value: normalise_email(value) if isinstance(value, str) else value),
    StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


def valid_email(value: object) -> str | None:
    """``value`` as local sign-up stores an e-mail (normalised, length-checked), else None.

    For e-mails that arrive outside a request body, such as an OIDC token's claim.
    """
    try:
        return _EMAIL.validate_python(value)
    except ValidationError:
        return None
