"""One error hierarchy for the core, so each front end maps failures in one place.

Every error the core raises on purpose is a `QAError` whose `kind` says whose problem it is:
the caller's input, something that does not exist, or a resource (index, model) that is not
usable right now. Front ends translate the kind, not the class: the CLI to exit codes, the HTTP
API to 4xx/404/503, the Slack bot to a reply telling the user what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum


class ErrorKind(StrEnum):
    BAD_INPUT = "bad_input"  # the request itself is unusable; fixing it is up to the caller
    NOT_FOUND = "not_found"  # a named thing (document, conversation) does not exist
    UNAVAILABLE = "unavailable"  # the index, model or corpus cannot serve; the message names the fix


class QAError(Exception):
    """Base of every deliberate error; the message is one line that says what to do."""

    kind: ErrorKind = ErrorKind.UNAVAILABLE


class BadInput(QAError):
    kind = ErrorKind.BAD_INPUT


class NotFound(QAError):
    kind = ErrorKind.NOT_FOUND


class Unavailable(QAError):
    kind = ErrorKind.UNAVAILABLE


class QuestionError(BadInput, ValueError):
    """The question itself is unusable (empty, too long)."""


class ConversationNotFound(NotFound):
    """A conversation id that was never started here, or was forgotten (idle too long, or evicted)."""


class StoreError(Unavailable):
    """The index is missing, damaged or incompatible, on either backend; the message says how to repair it."""


class NoIndex(StoreError):
    """No index has been built at the configured place yet: `qa index PATH` builds one."""


EXIT_CODES = {ErrorKind.BAD_INPUT: 2, ErrorKind.NOT_FOUND: 1, ErrorKind.UNAVAILABLE: 1}
HTTP_STATUS = {ErrorKind.BAD_INPUT: 422, ErrorKind.NOT_FOUND: 404, ErrorKind.UNAVAILABLE: 503}


@contextmanager
def unavailable_on(*errors: type[Exception]) -> Iterator[None]:
    """Re-raise these errors of a library that knows nothing of this hierarchy (the encoder's) as
    `Unavailable`, message kept, so the front ends answer 503 / exit 1 instead of a traceback."""
    try:
        yield
    except errors as exc:
        raise Unavailable(str(exc)) from exc
