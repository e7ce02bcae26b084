"""What a provider factory receives (SPEC 6.4): its options, the settings, sharing.

``build_auth`` calls one factory per capability, so a provider that serves several
capabilities under one name (WorkOS: user, session, sso, rbac, audit) is asked
several times. It must answer with the *same* object each time (the host checks
``session is user`` for providers that own their sessions, and one client means
one cache). :class:`ProviderOptions` is created once per provider name and
composition, and :meth:`ProviderOptions.shared` memoises the instance on it.

Every provider validates its options with one pydantic model derived from
:class:`OptionsModel` (``options.parse(MyOptions)``): an unknown key is an error that
names the closest valid key, and ``"ture"`` is an error, never ``False``. Options come
from TOML (typed values) or from ``MASTRA_AUTH__OPTIONS__<NAME>__<KEY>`` (text), so
lists and tables also accept their text forms (:data:`ListOption`, :func:`from_text`).
"""

from __future__ import annotations

import difflib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "Fallback",
    "Fallbacks",
    "ListOption",
    "OptionsModel",
    "ProviderOptions",
    "as_provider_options",
    "from_text",
    "shared_provider",
]

T = TypeVar("T")
M = TypeVar("M", bound="OptionsModel")

#: Where an unset option comes from: an environment variable (``"WORKOS_API_KEY"``)
#: or a value of the settings (``operator.attrgetter("database_url")``).
Fallback = str | Callable[["Settings"], Any]
#: ``OptionsModel.fallbacks``: option → its fallbacks, tried in order.
Fallbacks = Mapping[str, tuple[Fallback, ...]]


def from_text(value: Any) -> Any:
    """A list or table set through the environment arrives as text: JSON
    (``'["a","b"]'``, ``'{"admin": ["*"]}'``) or, for a list, ``a,b``."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from None
    return [item.strip() for item in text.split(",") if item.strip()]


#: A list of strings: a TOML array, or from the environment a JSON array or ``a,b``.
ListOption = Annotated[list[str], BeforeValidator(from_text)]


def _is_unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _settings_in(info: ValidationInfo) -> Settings:
    # ``ProviderOptions.parse`` passes itself as the context; a bare ``model_validate``
    # (a test) reads the settings as ``serve`` would.
    context = info.context
    return (context if isinstance(context, ProviderOptions) else ProviderOptions({})).settings


class OptionsModel(BaseModel):
    """Base of every provider's options model: unknown keys are errors, values are
    validated (``"yes"``/``"true"``/``1`` are booleans, ``"ture"`` is refused), and the
    result is immutable. Name the provider in ``provider_name`` for error messages.

    A ``None`` or blank value is unset (an environment variable cannot be "unset" by
    the deployment that sets it); an unset option takes the first of its
    ``fallbacks`` that has a value, else the field's default. Validators that must
    raise a message SPEC quotes raise :class:`ConfigurationError` (pydantic passes it
    through unchanged); others raise ``ValueError`` and the message names the key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)

    #: Used in error messages: ``better: unknown option 'x'``.
    provider_name: ClassVar[str] = "provider"
    #: Option → where it comes from when unset, in order (SPEC 1.3: provider environment
    #: variables are fallbacks used only when the option is unset).
    fallbacks: ClassVar[Fallbacks] = {}

    _source: ProviderOptions | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _apply_fallbacks(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return data
        values = {key: value for key, value in data.items() if not _is_unset(value)}
        for key, sources in cls.fallbacks.items():
            if key in values:
                continue
            for source in sources:
                value = os.environ.get(source) if isinstance(source, str) else source(_settings_in(info))
                if not _is_unset(value):
                    values[key] = value
                    break
        return values

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # In lax mode pydantic reads ``true`` as 1; only a boolean option takes a boolean.
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if annotation is not Any and bool not in (annotation, *get_args(annotation)):
                raise ValueError("a boolean is not a valid value here")
        return value

    @model_validator(mode="after")
    def _keep_source(self, info: ValidationInfo) -> OptionsModel:
        if isinstance(info.context, ProviderOptions):
            self._source = info.context
        return self

    @property
    def settings(self) -> Settings:
        """The settings these options were validated with (production, public URL...)."""
        if self._source is None:
            self._source = ProviderOptions({})
        return self._source.settings


def _option_error(provider: str, model: type[BaseModel], error: ValidationError) -> ConfigurationError:
    known = sorted(field.alias or name for name, field in model.model_fields.items())
    problems: list[str] = []
    for issue in error.errors():
        key = ".".join(str(part) for part in issue["loc"]) or "(options)"
        if issue["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(issue["loc"][0]), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
            problems.append(f"unknown option '{key}'{hint}")
        else:
            problems.append(f"option '{key}': {issue['msg'].removeprefix('Value error, ')}")
    return ConfigurationError(f"{provider}: " + "; ".join(problems))


class ProviderOptions(Mapping[str, Any]):
    """Read-only options of one provider name for one composition, plus the settings."""

    __slots__ = ("_data", "_instances", "_lock", "_parsed", "_settings")

    def __init__(self, data: Mapping[str, Any], settings: Settings | None = None) -> None:
        self._data = dict(data)
        self._settings = settings
        self._instances: dict[Any, Any] = {}
        self._parsed: dict[type[Any], Any] = {}
        self._lock = threading.RLock()

    @property
    def settings(self) -> Settings:
        """The global settings; when none were given (a provider built by hand), they are
        read from the environment and ``mastra.toml`` as ``serve`` would."""
        if self._settings is None:
            from .settings import Settings

            self._settings = Settings()
        return self._settings

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ProviderOptions({sorted(self._data)})"  # values may be secrets: keys only

    def parse(self, model: type[M], provider: str | None = None) -> M:
        """Validate the options with ``model`` (once per model); errors name the key.

        ``provider`` (default: the model's ``provider_name``) prefixes the message.
        """
        with self._lock:
            if model not in self._parsed:
                name = provider or model.provider_name
                try:
                    self._parsed[model] = model.model_validate(self._data, context=self)
                except ValidationError as error:
                    raise _option_error(name, model, error) from None
            return self._parsed[model]  # type: ignore[no-any-return]

    def shared(self, factory: Callable[[ProviderOptions], T], key: Any = None) -> T:
        """One ``factory(self)`` result per ``key`` (default: the factory) on these options."""
        key = factory if key is None else key
        with self._lock:
            if key not in self._instances:
                self._instances[key] = factory(self)
            return self._instances[key]  # type: ignore[no-any-return]


def as_provider_options(options: Mapping[str, Any], settings: Settings | None = None) -> ProviderOptions:
    """``options`` itself when it is a :class:`ProviderOptions`, else a new one around it
    (a test calling a factory with a plain dict)."""
    if isinstance(options, ProviderOptions):
        return options
    return ProviderOptions(options, settings)


def shared_provider(
    options: Mapping[str, Any], factory: Callable[[ProviderOptions], T], key: Any = None
) -> T:
    """One instance per (composition, provider name, ``key``); ``key`` defaults to ``factory``.

    With a plain mapping (a test calling a hook directly) there is nothing to share
    across calls, and the factory simply runs.
    """
    return as_provider_options(options).shared(factory, key)
