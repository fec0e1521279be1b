"""Bearer tokens: a JSON file mapping each token to the subscription ids it may touch (``"*"`` for all)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.files import InputError, read_json_file
from opennsg.model.validation.codes import Code

ALL_SUBSCRIPTIONS = "*"


@dataclass(frozen=True)
class Tokens:
    """Which subscriptions each token may touch (subscription ids compared case-insensitively)."""

    grants: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, grants: Mapping[str, list[str]]) -> Tokens:
        return cls(MappingProxyType({t: frozenset(s.casefold() for s in subs) for t, subs in grants.items()}))

    def subscriptions(self, token: str) -> frozenset[str] | None:
        """The subscriptions of a token, or None when the token is unknown."""
        return self.grants.get(token)

    @staticmethod
    def allows(granted: frozenset[str], subscription: str) -> bool:
        return ALL_SUBSCRIPTIONS in granted or subscription.casefold() in granted

    @classmethod
    def load(cls, path: Path) -> Tokens:
        try:
            data = read_json_file(path)
        except InputError as exc:
            if exc.missing:
                raise OpenNsgError([ArmError(Code.FILE_NOT_FOUND, f"Tokens file {path} does not exist.")]) from None
            raise OpenNsgError([ArmError(Code.INVALID_JSON, f"Tokens file {exc}.", str(path))]) from None
        valid = isinstance(data, dict) and all(
            isinstance(token, str) and token and isinstance(subs, list) and all(isinstance(s, str) for s in subs)
            for token, subs in data.items()
        )
        if not valid:
            message = f'{path}: expected {{"<token>": ["<subscription id>" | "*", ...], ...}}.'
            raise OpenNsgError([ArmError(Code.INVALID_TOKENS_FILE, message)])
        return cls.of(data)


def create_token_file(path: Path) -> tuple[Tokens, str]:
    """A new all-subscriptions token, written to ``path`` readable by the owner only; returns it too."""
    token = secrets.token_urlsafe(32)
    write_token_file(path, {token: [ALL_SUBSCRIPTIONS]})
    return Tokens.of({token: [ALL_SUBSCRIPTIONS]}), token


def write_token_file(path: Path, grants: Mapping[str, list[str]]) -> None:
    """Replace the token file in one step, readable by its owner only (tokens never sit in a world-readable file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(dict(grants), handle, indent=2)
    os.replace(temporary, path)


def rotate_token_file(path: Path) -> str:
    """Replace every all-subscriptions token of the file by one new token; tokens of given subscriptions stay."""
    grants = {token: sorted(subs) for token, subs in Tokens.load(path).grants.items() if ALL_SUBSCRIPTIONS not in subs}
    token = secrets.token_urlsafe(32)
    write_token_file(path, {**grants, token: [ALL_SUBSCRIPTIONS]})
    return token
