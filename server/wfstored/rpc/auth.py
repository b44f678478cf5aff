"""Token authentication: the token file, and the interceptor that checks every call's token.

A call carries ``authorization: Bearer <token>``. The token is compared with every accepted
one, always all of them and in constant time (``hmac.compare_digest`` on SHA-256 digests, so
neither which token matched nor how long the tokens are shows in the timing). Tokens are never
logged, and never put in an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn, TypeAlias

import grpc
from wfstore.transport import TOKEN_PATTERN

__all__ = ["MIN_TOKEN_LENGTH", "TokenAuthenticator", "TokenFileError", "parse_tokens"]

_log = logging.getLogger("wfstored.auth")

MIN_TOKEN_LENGTH: Final = 16
"""The shortest token accepted in a token file: short tokens can be guessed."""
_BEARER: Final = "bearer"

_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class TokenFileError(Exception):
    """The token file holds no usable token; the message says which line, never the token."""


def parse_tokens(data: bytes, path: Path) -> tuple[bytes, ...]:
    """Return the tokens in a token file's ``data``: one a line, ``#`` lines and blanks skipped.

    Raises :class:`TokenFileError` for a file with no token, or with a line that is not a
    usable token (not printable ASCII, has spaces, or is shorter than ``MIN_TOKEN_LENGTH``).
    """
    tokens: list[bytes] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        text = line.decode("ascii", errors="replace")
        if not TOKEN_PATTERN.fullmatch(text):
            raise TokenFileError(
                f"token file {path} line {number}: a token must be printable ASCII with no spaces"
            )
        if len(line) < MIN_TOKEN_LENGTH:
            raise TokenFileError(
                f"token file {path} line {number}: the token has {len(line)} characters; use at "
                f"least {MIN_TOKEN_LENGTH} (e.g. python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        tokens.append(line)
    if not tokens:
        raise TokenFileError(f"token file {path} holds no token (blank and # lines are skipped)")
    return tuple(tokens)


class TokenAuthenticator(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Refuses, with UNAUTHENTICATED, every call without an accepted token, except ``exempt``."""

    def __init__(self, tokens: Sequence[bytes], *, exempt: Iterable[str]) -> None:
        """Accept any of ``tokens``; let the fully qualified methods in ``exempt`` through."""
        if not tokens:
            raise ValueError("at least one token is needed")
        self._digests = tuple(hashlib.sha256(token).digest() for token in tokens)
        self._exempt = frozenset(exempt)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], _Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        """Run the call if it is exempt or carries an accepted token; refuse it otherwise."""
        method = handler_call_details.method
        if method in self._exempt:
            return continuation(handler_call_details)
        problem = self._problem(handler_call_details.invocation_metadata or ())
        if problem is None:
            return continuation(handler_call_details)
        _log.info("%s: UNAUTHENTICATED: %s", method, problem)
        return _refusal(continuation(handler_call_details), problem)

    def accepts(self, token: bytes) -> bool:
        """Return whether ``token`` is one of the accepted tokens, comparing with all of them."""
        digest = hashlib.sha256(token).digest()
        matched = False
        for known in self._digests:  # no early exit: the time does not depend on which matched
            matched |= hmac.compare_digest(digest, known)
        return matched

    def _problem(self, metadata: Iterable[tuple[str, str | bytes]]) -> str | None:
        """Return why the call's metadata is refused, or None if it carries an accepted token."""
        values = [value for key, value in metadata if key == "authorization"]
        if not values:
            return "this daemon needs a token: send 'authorization: Bearer <token>'"
        if len(values) > 1:
            return "more than one authorization header"
        value = values[0]
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        scheme, _, token = text.strip().partition(" ")
        if scheme.lower() != _BEARER or not token.strip():
            return "the authorization header is not 'Bearer <token>'"
        if not self.accepts(token.strip().encode()):
            return "the token is not accepted"
        return None


def _refusal(handler: _Handler | None, message: str) -> _Handler:
    """Return a handler of the same streaming kind as ``handler`` that aborts with ``message``.

    Unknown methods are refused too (as unary calls), so a caller without a token cannot probe
    which methods exist.
    """

    def abort(request: object, context: grpc.ServicerContext) -> NoReturn:
        del request
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    if handler is None or not (handler.request_streaming or handler.response_streaming):
        return grpc.unary_unary_rpc_method_handler(abort)
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(abort)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(abort)
    return grpc.unary_stream_rpc_method_handler(abort)
