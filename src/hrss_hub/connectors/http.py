"""A careful HTTP client for REST sources: retries, backoff, rate limits, no leaked secrets.

Government APIs are often slow, overloaded at month end, and behind proxies that cut
connections. The client therefore retries every failure that a retry can fix (5xx, 408,
429, timeouts, refused or reset connections, truncated or invalid JSON) with exponential
backoff and *full jitter*, so a fleet of hubs does not hammer a recovering server in step.
It gives up after ``max_retries`` retries with an error that names the method, the URL
(secrets masked) and how many attempts were made. Failures a retry cannot fix (401/403,
other 4xx) fail at once.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from hrss_hub.errors import FatalSourceError, RetriableSourceError, redact

log = logging.getLogger(__name__)

#: query-parameter names (lower-case, without ``_``/``-``) whose values are always masked
_SECRET_PARAM_NAMES = frozenset({"key", "sign", "sig", "auth", "authorization", "pass"})
#: … and fragments that make any name secret-looking (``access_token``, ``appSecret``, …)
_SECRET_PARAM_PARTS = ("token", "secret", "passw", "pwd", "apikey", "appkey", "accesskey",
                       "signature", "credential", "ticket", "session")

#: statuses a retry can fix
_RETRIABLE_STATUSES = frozenset({408, 429})


def _secret_looking(name: str) -> bool:
    norm = name.lower().replace("_", "").replace("-", "")
    return norm in _SECRET_PARAM_NAMES or any(part in norm for part in _SECRET_PARAM_PARTS)


def safe_url(url: str, secrets: Iterable[str] = ()) -> str:
    """``url`` fit for an error message or log line.

    Userinfo (``user:password@``) is dropped, the values of secret-looking query parameters
    (``token``, ``appKey``, ``signature``, …) and of any parameter equal to a known secret
    become ``***``, and the fragment is removed.
    """
    secrets = tuple(s for s in secrets if s)
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [
        (k, "***" if _secret_looking(k) or any(s in v for s in secrets) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    text = urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*/:,"), ""))
    return redact(text, secrets)


def full_url(url: str, params: Mapping[str, str] | None = None) -> str:
    """``url`` with ``params`` encoded onto it, exactly as ``requests`` will send it."""
    prepared = requests.Request("GET", url, params=dict(params or {})).prepare()
    return str(prepared.url)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``max_retries`` is a hard cap: at most ``max_retries + 1`` attempts."""

    max_retries: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 10.0
    #: client-side cap on the request rate (``None``: unlimited); 429s are honoured anyway
    max_requests_per_second: float | None = None
    #: a ``Retry-After`` longer than this is not waited for: the run fails (retriable)
    max_retry_after_seconds: float = 300.0

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): full jitter.

        Full jitter (uniform in ``[0, min(cap, base·2^(retry-1))]``) spreads clients out
        better than equal or no jitter, so a recovering server is not hit in waves.
        """
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (retry - 1))
        return random.uniform(0.0, ceiling)


class RateLimiter:
    """At most ``per_second`` calls per second (evenly spaced), shared across threads."""

    def __init__(self, per_second: float | None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._interval = 1.0 / per_second if per_second else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call is allowed."""
        if not self._interval:
            return
        # Sleeping while holding the lock is deliberate: it queues concurrent callers.
        with self._lock:
            now = self._clock()
            if self._next > now:
                self._sleep(self._next - now)
                now = self._clock()
            self._next = max(now, self._next) + self._interval


@dataclass(frozen=True)
class JsonResponse:
    """A successful response with its JSON body parsed."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: Any
    #: parsed RFC 8288 ``Link`` header: rel → {"url": …, …}
    links: Mapping[str, Mapping[str, str]]
    attempts: int


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delay-seconds or an HTTP date; ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; be lenient with naive ones
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _describe_connection_error(exc: requests.ConnectionError) -> str:
    # requests' messages repeat the whole URL (query included) and nest several
    # exception reprs; say what happened in plain words instead.
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused (is the server running?)"
    if "reset" in text or "aborted" in text or "remotedisconnected" in text:
        return "connection reset by the server"
    if "name or service not known" in text or "nodename nor servname" in text \
            or "failed to resolve" in text:
        return "host name could not be resolved"
    return f"connection failed ({type(exc).__name__})"


class HttpClient:
    """GETs JSON with retries, backoff with jitter, ``Retry-After`` and a rate limit.

    Args:
        policy: retry, timeout and rate settings.
        headers: sent with every request (may include auth headers: never logged).
        params: query parameters added to every request (e.g. an API key; masked in messages).
        basic_auth: ``(user, password)`` for HTTP basic authentication.
        secrets: literal values to mask in every message (tokens, passwords).
        auth_hint: what to tell a person when the server answers 401/403.
        verify: TLS verification (``True``, ``False`` or a CA bundle path).
        sleep: injectable for tests.
    """

    def __init__(self, policy: RetryPolicy, *, headers: Mapping[str, str] | None = None,
                 params: Mapping[str, str] | None = None,
                 basic_auth: tuple[str, str] | None = None, secrets: Iterable[str] = (),
                 auth_hint: str = "check the credentials", verify: bool | str = True,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.policy = policy
        self.secrets = tuple(s for s in secrets if s)
        self._auth_params = dict(params or {})
        self._auth_hint = auth_hint
        self._sleep = sleep
        self._limiter = RateLimiter(policy.max_requests_per_second, sleep=sleep)
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json"})
        self._session.headers.update(dict(headers or {}))
        self._session.auth = basic_auth
        self._session.verify = verify
        # requests would read proxy settings and .netrc credentials from the environment;
        # a source's auth must come from its YAML only.
        self._session.trust_env = False

    def __repr__(self) -> str:
        return f"HttpClient(policy={self.policy!r})"  # never the headers: they hold secrets

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    @property
    def auth_param_names(self) -> frozenset[str]:
        """Names of the query parameters this client adds for authentication."""
        return frozenset(self._auth_params)

    def safe(self, url: str) -> str:
        """``url`` with every secret this client knows about masked."""
        return safe_url(url, self.secrets)

    def get_json(self, url: str, params: Mapping[str, str] | None = None, *,
                 context: Mapping[str, Any] | None = None) -> JsonResponse:
        """GET ``url`` and parse its JSON body, retrying what a retry can fix.

        Raises:
            FatalSourceError: 401/403 (authentication), other 4xx, bad URL, TLS errors.
            RetriableSourceError: still failing after ``max_retries`` retries, or the server
                asked (``Retry-After``) for a longer pause than ``max_retry_after_seconds``.
        """
        context = dict(context or {})
        all_params = {**dict(params or {}), **self._auth_params}
        shown = self.safe(full_url(url, all_params))
        attempts = self.policy.max_retries + 1
        problem = "no attempt made"
        for attempt in range(1, attempts + 1):
            self._limiter.wait()
            wait: float | None = None
            try:
                response = self._session.get(url, params=all_params,
                                             timeout=self.policy.timeout_seconds)
                content = response.content  # reads the body: truncation surfaces here
            except requests.Timeout:
                problem = f"no response within {self.policy.timeout_seconds:g} s (timeout)"
            except requests.exceptions.SSLError:
                raise FatalSourceError(f"TLS error on GET {shown}", context,
                                       "check the server certificate, or set connection.verify "
                                       "to a CA bundle path") from None
            except requests.ConnectionError as exc:
                problem = _describe_connection_error(exc)
            except (requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError):
                problem = "the response body was cut off (truncated)"
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema):
                raise FatalSourceError(f"invalid URL for GET {shown}", context,
                                       "check connection.base_url and the stream's path"
                                       ) from None
            else:
                status = response.status_code
                if status in (401, 403):
                    raise FatalSourceError(
                        f"authentication failed: GET {shown} returned {_status_text(status)}",
                        context, self._auth_hint)
                if status in _RETRIABLE_STATUSES or status >= 500:
                    problem = _status_text(status)
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                    if wait is not None and wait > self.policy.max_retry_after_seconds:
                        limit = self.policy.max_retry_after_seconds
                        raise RetriableSourceError(
                            f"GET {shown} returned {problem} asking to wait {wait:g} s "
                            f"(Retry-After), longer than the {limit:g} s this client waits "
                            f"(attempt {attempt})", context,
                            "run again later")
                elif status >= 400:
                    snippet = redact(response.text[:200], self.secrets).strip()
                    raise FatalSourceError(
                        f"GET {shown} returned {_status_text(status)}"
                        + (f": {snippet}" if snippet else ""), context,
                        "check the stream's path and params (a retry will not help)")
                else:
                    try:
                        body = _parse_json(content, response.headers.get("Content-Type", ""))
                    except ValueError as exc:
                        problem = f"invalid JSON in the response ({_json_problem(exc)})"
                    else:
                        return JsonResponse(
                            url=str(response.url), status=status,
                            headers=dict(response.headers), body=body,
                            links={str(k): dict(v) for k, v in response.links.items()},
                            attempts=attempt)
            if attempt < attempts:
                delay = wait if wait is not None else self.policy.backoff(attempt)
                log.warning("GET %s: %s (attempt %d of %d); retrying in %.2f s",
                            shown, problem, attempt, attempts, delay)
                self._sleep(delay)
        raise RetriableSourceError(
            f"GET {shown} failed after {attempts} attempts: {problem}", context,
            "the source may be down or overloaded; the run can be retried later "
            "(connection.max_retries / backoff_seconds tune the retries)")


def _parse_json(content: bytes, content_type: str) -> Any:
    if not content.strip():
        return None
    charset = ""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip().strip('"')
    # Without a charset, json.loads detects UTF-8/16/32 itself (RFC 8259); some domestic
    # systems still declare GBK/GB18030, which must be decoded first.
    if charset and charset.lower().replace("-", "") not in ("utf8", "utf16", "utf32"):
        try:
            return json.loads(content.decode(charset))
        except LookupError:
            raise ValueError(f"unknown charset {charset!r}") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"not valid {charset}: {exc.reason}") from None
    return json.loads(content)


def _json_problem(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at char {exc.pos}"  # never the document: it may hold personal data
    return str(exc)
