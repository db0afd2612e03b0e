"""The base of every configuration-file model, and the small types they share.

Models are strict about *keys* (an unknown key is an error with a did-you-mean) and lenient
about *spelling of values* the way YAML users expect: ``retries: "3"`` is 3, a division
written as a number (``division: 510107``) is the text ``"510107"``. A value that cannot be
read (``retries: three``) is an error naming the key, line and value.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError


class FileModel(BaseModel):
    """Base of the models of YAML files: unknown keys are errors, models are immutable."""

    # attribute docstrings are the keys' descriptions (`hrss-hub init` writes them as comments)
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True,
                              use_attribute_docstrings=True)

    @classmethod
    def keys(cls) -> frozenset[str]:
        """The keys this mapping accepts in YAML (aliases where a field has one)."""
        return frozenset(f.alias or name for name, f in cls.model_fields.items())


def fail(message: str, hint: str | None = None) -> PydanticCustomError:
    """A validation error in our own words (raise it inside a validator)."""
    # the context only holds ``hint``: braces in the message (``{column: …}``) stay as written
    return PydanticCustomError("hrss_config", message, {"hint": hint} if hint else None)


def fail_at(*errors: tuple[tuple[str | int, ...], str, str | None]) -> ValidationError:
    """Errors at locations below the model being validated: ``(loc, message, hint)`` each.

    Raise the result inside a model validator when a cross-field check belongs to one
    field (``primary_key``, not the whole stream); pydantic prefixes the model's own path.
    """
    details = [InitErrorDetails(type=fail(message, hint), loc=loc, input=None)
               for loc, message, hint in errors]
    return ValidationError.from_exception_data("hrss_config", details)


def scalar_text(value: Any) -> Any:
    """A YAML scalar read as text: YAML reads ``1``, ``1.5``, ``true`` as numbers and
    booleans, where a code, a map entry or a query parameter is text (``true`` stays
    ``true``, not Python's ``True``). Other values are left to the field's own check."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


#: text, also when YAML read the value as a number or boolean
Text = Annotated[str, BeforeValidator(scalar_text)]


def _as_list(value: Any) -> Any:
    # ``primary_key: AAC001`` is shorthand for ``[AAC001]``
    if isinstance(value, str | int) and not isinstance(value, bool):
        return [str(value)]
    return value


def _no_duplicates(values: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise fail(f"{v!r} is listed twice")
        seen.add(v)
    return values


#: text that must not be empty
Name = Annotated[str, Field(min_length=1)]
#: a column name or a list of them
Columns = Annotated[tuple[Name, ...], BeforeValidator(_as_list), AfterValidator(_no_duplicates)]
#: a list of distinct names
NameList = Annotated[tuple[Name, ...], AfterValidator(_no_duplicates)]
#: a count that must be at least 1
PositiveInt = Annotated[int, Field(gt=0)]
#: a count that may be 0
NonNegativeInt = Annotated[int, Field(ge=0)]
#: a percentage
Percent = Annotated[float, Field(ge=0, le=100)]
