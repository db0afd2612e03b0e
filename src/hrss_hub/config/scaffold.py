"""The text of a new workspace's ``hub.yaml``, written from the models that read it.

Every key of :class:`~hrss_hub.config.hub.HubFile` (and of its sections) appears in the
order the model declares it, above it its description (the attribute docstring in the
model) as a comment, and its default as the value. A key whose default is "unset" (``None``:
the hub decides, e.g. the ledger in ``state_dir``) is written commented out, so that the
file means exactly what an empty one would; a test holds the two equal. A key added to the
model appears in new workspaces without anyone copying text.
"""

from __future__ import annotations

import textwrap
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

#: comment width (the file stays readable in an 100-column editor)
WIDTH = 92


def hub_yaml(level: str, division: str, hub_id: str = "hrss-hub") -> str:
    """A commented ``hub.yaml`` with every key of the model, its default written out."""
    from hrss_hub.config.hub import HubFile

    given: dict[str, Any] = {"level": level, "division": division, "hub_id": hub_id}
    lines = ["# hub.yaml: this workspace's settings (docs/configuration.md). Every key is",
             "# written with its default; a commented-out key is unset and the hub decides.",
             "# Environment variables override keys (`hrss-hub config show` says which).", ""]
    for name, field in HubFile.model_fields.items():
        value = given[name] if name in given else _default(field)
        lines.extend(_entry(name, field, value, indent=0))
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _default(field: FieldInfo) -> Any:
    return field.get_default(call_default_factory=True)


def _entry(name: str, field: FieldInfo, value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines = [pad + "# " + line for line in textwrap.wrap(
        " ".join((field.description or "").split()), WIDTH - indent)]
    if isinstance(value, BaseModel):  # a section: its own keys, one level in
        lines.append(f"{pad}{name}:")
        for key, sub in type(value).model_fields.items():
            lines.extend(_entry(key, sub, getattr(value, key), indent + 2))
        return lines
    if value is None:
        lines.append(f"{pad}# {name}:")
    else:
        lines.append(f"{pad}{name}: {_scalar(value)}")
    return lines


def _scalar(value: Any) -> str:
    """``value`` as YAML flow text (a tuple is a list; text that looks like a number is quoted)."""
    if isinstance(value, tuple):
        value = list(value)
    text: str = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True,
                               width=1_000_000)
    return text.removesuffix("\n...\n").strip()
