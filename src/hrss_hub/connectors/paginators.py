"""REST pagination styles: one small class per style, registered by name.

Modelled on dlt's ``rest_client/paginators.py``: a paginator sets up the first request
(:meth:`Paginator.init_request`), learns from each response where the next page is
(:meth:`Paginator.update_state`) and writes that into the next request
(:meth:`Paginator.update_request`). Because the hub resumes reads after a crash, a request
is plain data (:class:`PageRequest`, stored in the connector state) and a paginator can
continue from one (:meth:`Paginator.resume`).

Each style declares its options as a small pydantic model (``Options``) — the YAML under a
stream's ``pagination:``. This module imports neither pyarrow nor an HTTP library, so the
configuration models (and DAG parsing) can use it.

Every style ends the stream on an empty page; a *short* page does not end it, because
servers cap page sizes below what was asked for.

Built-in styles: ``none`` (one request), ``page`` (page number + size), ``offset``
(offset + limit), ``cursor`` (a token in the body, sent back as a parameter), ``link``
(RFC 8288 ``Link: <…>; rel="next"`` header) and ``next_url`` (the next page's URL in the
body). Another style is one subclass decorated with :func:`register_paginator`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeVar
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hrss_hub.errors import ConfigError, unknown_choice

_Positive = Annotated[int, Field(gt=0)]
_NonNegative = Annotated[int, Field(ge=0)]
_Name = Annotated[str, Field(min_length=1)]


class PaginationOptions(BaseModel):
    """Base of every style's options: the ``pagination:`` mapping of a REST stream.

    Configured like the configuration layer's file models (unknown keys are errors, models
    are immutable, a parameter name YAML read as a number is text), so the REST stream
    model can hold these as they are.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    type: str
    #: dotted path of the number of records matching the request (e.g. ``data.total``),
    #: any style: only progress displays use it (a bar with a total and an ETA)
    records_total_path: _Name | None = None

    def records_total(self) -> str | None:
        """Where a response says how many records match: ``records_total_path``, else a
        ``total_path`` that counts records (offset paging)."""
        return self.records_total_path


class SinglePageOptions(PaginationOptions):
    """``{type: none}``: the endpoint answers with every record at once."""

    type: Literal["none"] = "none"


class PageNumberOptions(PaginationOptions):
    """``{type: page, page_param: page, size_param: size, size: 100, start: 1}``."""

    type: Literal["page"] = "page"
    page_param: _Name = "page"
    size_param: _Name = "size"
    size: _Positive = 100
    #: number of the first page (0 or 1 in practice)
    start: _NonNegative = 1
    #: dotted path of the total number of pages in the body (optional: stop after it)
    total_path: _Name | None = None


class OffsetOptions(PaginationOptions):
    """``{type: offset, offset_param: offset, limit_param: limit, size: 100}``."""

    type: Literal["offset"] = "offset"
    offset_param: _Name = "offset"
    limit_param: _Name = "limit"
    size: _Positive = 100
    #: dotted path of the total number of records in the body (optional: stop after it)
    total_path: _Name | None = None

    def records_total(self) -> str | None:
        """``records_total_path``, else ``total_path`` (it counts records here)."""
        return self.records_total_path or self.total_path


class CursorOptions(PaginationOptions):
    """``{type: cursor, cursor_path: data.next, cursor_param: cursor}``."""

    type: Literal["cursor"] = "cursor"
    #: dotted path of the next-page token in the body
    cursor_path: _Name
    cursor_param: _Name = "cursor"


class LinkHeaderOptions(PaginationOptions):
    """``{type: link}``: follow ``Link: <url>; rel="next"`` (RFC 8288)."""

    type: Literal["link"] = "link"


class NextUrlOptions(PaginationOptions):
    """``{type: next_url, next_url_path: links.next}``: the next page's URL in the body."""

    type: Literal["next_url"] = "next_url"
    next_url_path: _Name


#: the built-in styles' options as one tagged union (for the configuration models)
BuiltinPagination = Annotated[
    SinglePageOptions | PageNumberOptions | OffsetOptions | CursorOptions | LinkHeaderOptions
    | NextUrlOptions, Field(discriminator="type")]


class PageResponse(Protocol):
    """What a paginator reads from a response (``http.JsonResponse`` has these)."""

    @property
    def url(self) -> str:
        """The URL that answered (after redirects)."""

    @property
    def body(self) -> Any:
        """The parsed JSON body."""

    @property
    def links(self) -> Mapping[str, Mapping[str, str]]:
        """``Link`` header entries by ``rel`` (``{"next": {"url": …}}``)."""


@dataclass
class PageRequest:
    """The next page to ask for: query parameters, or an absolute URL given by the server.

    Its JSON form (:meth:`to_json`) is stored in the connector state while a read is under
    way, so a resumed read asks for exactly the page it had not finished.
    """

    params: dict[str, str] = field(default_factory=dict)
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"params": {...}}`` or ``{"url": ..., "params": {...}}``."""
        out: dict[str, Any] = {"params": dict(self.params)}
        if self.url:
            out["url"] = self.url
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PageRequest:
        """Inverse of :meth:`to_json`."""
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            raise ValueError("params must be a mapping")
        url = data.get("url")
        return cls({str(k): str(v) for k, v in params.items()}, str(url) if url else None)


class PaginationLoop(Exception):
    """The server's pagination would loop forever (the same next page twice)."""


def at_path(body: Any, path: str) -> Any:
    """Value at a dotted path (``data.items``, ``list.0``); ``None`` when a step is missing."""
    node = body
    for part in (p for p in path.split(".") if p):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def as_int(value: Any) -> int | None:
    """An integer from a JSON number or digit string (``None`` otherwise, and for booleans)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


class Paginator(ABC):
    """One pagination style. Subclasses set ``style`` and ``Options`` and implement
    :meth:`update_state`; most also :meth:`init_request`, :meth:`update_request` and
    :meth:`resume`."""

    style: ClassVar[str]
    Options: ClassVar[type[PaginationOptions]]

    def __init__(self, options: PaginationOptions) -> None:
        self.options = options
        self._has_next_page = True

    @property
    def has_next_page(self) -> bool:
        """Whether :meth:`update_request` would produce another page."""
        return self._has_next_page

    def init_request(self, request: PageRequest) -> None:
        """Turn ``request`` into the request for the first page (default: as it is)."""
        return None

    def resume(self, request: PageRequest) -> None:
        """Continue a read whose next page is ``request`` (from a stored state)."""
        self._has_next_page = True

    @abstractmethod
    def update_state(self, response: PageResponse, data: Sequence[Any]) -> None:
        """Learn from the page just read (its records ``data``) where the next one is."""

    def update_request(self, request: PageRequest) -> None:
        """Turn ``request`` into the request for the next page (default: as it is)."""
        return None

    def _stop(self) -> None:
        self._has_next_page = False


_PAGINATORS: dict[str, type[Paginator]] = {}
P = TypeVar("P", bound=type[Paginator])


def register_paginator(cls: P) -> P:
    """Class decorator: make ``cls`` available as ``pagination: {type: <cls.style>}``."""
    _PAGINATORS[cls.style] = cls
    return cls


def styles() -> list[str]:
    """Names of every registered pagination style, sorted."""
    return sorted(_PAGINATORS)


@register_paginator
class SinglePagePaginator(Paginator):
    """One request; the response holds every record."""

    style = "none"
    Options = SinglePageOptions

    def update_state(self, response: PageResponse, data: Sequence[Any]) -> None:
        """There is never a next page."""
        self._stop()


class _RangePaginator(Paginator):
    """A numeric position parameter (page number or offset) plus a page-size parameter."""

    options: PageNumberOptions | OffsetOptions

    def __init__(self, options: PaginationOptions) -> None:
        super().__init__(options)
        self.position = self.initial

    @property
    @abstractmethod
    def initial(self) -> int:
        """The position of the first page."""

    @property
    @abstractmethod
    def params(self) -> tuple[str, str]:
        """(position parameter, size parameter)."""

    @abstractmethod
    def advanced(self, received: int) -> int:
        """The position after a page of ``received`` records."""

    @abstractmethod
    def beyond(self, total: int) -> bool:
        """Whether the (advanced) position is past ``total`` (the body's total)."""

    def init_request(self, request: PageRequest) -> None:
        """Ask for the first page."""
        self.position = self.initial
        self.update_request(request)

    def resume(self, request: PageRequest) -> None:
        """Continue at the position in ``request``."""
        super().resume(request)
        position = as_int(request.params.get(self.params[0]))
        self.position = self.initial if position is None else position

    def update_state(self, response: PageResponse, data: Sequence[Any]) -> None:
        """Advance, unless the page was empty or the body's total is reached."""
        if not data:
            return self._stop()
        self.position = self.advanced(len(data))
        if self.options.total_path:
            total = as_int(at_path(response.body, self.options.total_path))
            if total is not None and self.beyond(total):
                return self._stop()
        return None

    def update_request(self, request: PageRequest) -> None:
        """Set the position and size parameters."""
        position_param, size_param = self.params
        request.params[position_param] = str(self.position)
        request.params[size_param] = str(self.options.size)


@register_paginator
class PageNumberPaginator(_RangePaginator):
    """``?page=N&size=S``; N counts up from ``start`` until an empty page (or the total)."""

    style = "page"
    Options = PageNumberOptions
    options: PageNumberOptions

    @property
    def initial(self) -> int:
        """``start``."""
        return self.options.start

    @property
    def params(self) -> tuple[str, str]:
        """(``page_param``, ``size_param``)."""
        return self.options.page_param, self.options.size_param

    def advanced(self, received: int) -> int:
        """The next page number."""
        return self.position + 1

    def beyond(self, total: int) -> bool:
        """``total`` counts pages: all of them are read."""
        return self.position - self.options.start >= total


@register_paginator
class OffsetPaginator(_RangePaginator):
    """``?offset=O&limit=L``; O advances by the records received until an empty page."""

    style = "offset"
    Options = OffsetOptions
    options: OffsetOptions

    @property
    def initial(self) -> int:
        """Offset 0."""
        return 0

    @property
    def params(self) -> tuple[str, str]:
        """(``offset_param``, ``limit_param``)."""
        return self.options.offset_param, self.options.limit_param

    def advanced(self, received: int) -> int:
        """Servers may send fewer records than the limit: advance by what came."""
        return self.position + received

    def beyond(self, total: int) -> bool:
        """``total`` counts records."""
        return self.position >= total


@register_paginator
class CursorPaginator(Paginator):
    """A next-page token in the body (``cursor_path``), sent back as ``cursor_param``."""

    style = "cursor"
    Options = CursorOptions
    options: CursorOptions

    def __init__(self, options: PaginationOptions) -> None:
        super().__init__(options)
        self.current: str | None = None
        self.next: str | None = None

    def resume(self, request: PageRequest) -> None:
        """Continue with the token in ``request``."""
        super().resume(request)
        self.current = request.params.get(self.options.cursor_param)

    def update_state(self, response: PageResponse, data: Sequence[Any]) -> None:
        """Read the next token; none (or an empty page) ends the stream."""
        token = at_path(response.body, self.options.cursor_path)
        if not data or token in (None, "") or isinstance(token, dict | list):
            return self._stop()
        if str(token) == self.current:
            raise PaginationLoop(f"the server returned the same cursor "
                                 f"{self.options.cursor_param} twice in a row")
        self.next = str(token)
        return None

    def update_request(self, request: PageRequest) -> None:
        """Send the token."""
        if self.next is not None:
            request.params[self.options.cursor_param] = self.next
            self.current = self.next


class _UrlPaginator(Paginator):
    """Base of the styles where the server names the next page's URL."""

    def __init__(self, options: PaginationOptions) -> None:
        super().__init__(options)
        self.current: str | None = None
        self.next: str | None = None

    def resume(self, request: PageRequest) -> None:
        """Continue at ``request.url``."""
        super().resume(request)
        self.current = request.url

    @abstractmethod
    def next_reference(self, response: PageResponse) -> str | None:
        """The (possibly relative) next-page URL the response gives, if any."""

    def update_state(self, response: PageResponse, data: Sequence[Any]) -> None:
        """Resolve the next URL against the answering URL; none ends the stream."""
        reference = self.next_reference(response)
        if not data or not reference:
            return self._stop()
        url = urljoin(response.url, reference)
        if url in (self.current, response.url):
            raise PaginationLoop(f"the server's {self.style} next page points at the same "
                                 "page")
        self.next = url
        return None

    def update_request(self, request: PageRequest) -> None:
        """Request the next URL as given (its own query replaces the stream's params)."""
        if self.next is not None:
            request.url = self.next
            request.params = {}
            self.current = self.next


@register_paginator
class LinkHeaderPaginator(_UrlPaginator):
    """RFC 8288 ``Link: <…>; rel="next"``; relative references resolve against the URL."""

    style = "link"
    Options = LinkHeaderOptions

    def next_reference(self, response: PageResponse) -> str | None:
        """The ``rel="next"`` target."""
        return response.links.get("next", {}).get("url") or None


@register_paginator
class NextUrlPaginator(_UrlPaginator):
    """The next page's URL at ``next_url_path`` in the body (``{"next": "…?page=3"}``)."""

    style = "next_url"
    Options = NextUrlOptions
    options: NextUrlOptions

    def next_reference(self, response: PageResponse) -> str | None:
        """The URL in the body, if it is a non-empty string."""
        value = at_path(response.body, self.options.next_url_path)
        return value if isinstance(value, str) and value else None


def parse_pagination(raw: Any, where: str = "pagination",
                     **context: Any) -> PaginationOptions:
    """The options of a ``pagination:`` mapping, validated by its style's model.

    ``None`` means ``{type: none}``. Every problem is a ``ConfigError`` whose ``path`` is
    ``where`` plus the offending key, with the valid choices and a did-you-mean.
    """
    if raw is None:
        return SinglePageOptions()
    if isinstance(raw, PaginationOptions):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping with a type", {**context, "path": where},
                          f"e.g. pagination: {{type: page, size: 100}}; types: "
                          f"{', '.join(styles())}")
    style = str(raw.get("type", ""))
    if style not in _PAGINATORS:
        raise unknown_choice("pagination type", style, _PAGINATORS, **context,
                             path=f"{where}.type")
    model = _PAGINATORS[style].Options
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise _config_error(exc, model, where, context) from None


def _config_error(exc: ValidationError, model: type[PaginationOptions], where: str,
                  context: Mapping[str, Any]) -> ConfigError:
    """The first problem of ``exc`` as a ConfigError (unknown keys with did-you-mean).

    A misspelt key comes first: it usually explains a "missing" one.
    """
    error = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    key = ".".join(str(p) for p in error["loc"])
    path = f"{where}.{key}" if key else where
    fields = sorted(model.model_fields)
    if error["type"] == "extra_forbidden":
        return unknown_choice("key", key, fields, **context, path=path)
    if error["type"] == "missing":
        found = re.search(r"``(\{.+?\})``", model.__doc__ or "")
        example = found.group(1) if found else ""
        return ConfigError(f"{path} is required for {model.model_fields['type'].default} "
                           "pagination", {**context, "path": path},
                           f"e.g. pagination: {example}" if example else None)
    expected = {"int_type": "an integer", "int_parsing": "an integer",
                "int_from_float": "a whole number", "greater_than": "a positive integer",
                "greater_than_equal": "a non-negative integer", "string_type": "a string",
                "string_too_short": "a non-empty string"}.get(error["type"])
    message = (f"{path} must be {expected}, got {error.get('input')!r}" if expected else
               f"{path}: {error['msg']}")
    return ConfigError(message, {**context, "path": path})


def options_model(style: str) -> type[PaginationOptions]:
    """The options model of a registered style (``KeyError`` for an unknown one)."""
    return _PAGINATORS[style].Options


def create_paginator(options: PaginationOptions) -> Paginator:
    """A fresh paginator for ``options`` (one per read: paginators hold the position)."""
    try:
        cls = _PAGINATORS[options.type]
    except KeyError:
        raise unknown_choice("pagination type", options.type, _PAGINATORS) from None
    return cls(options)
