"""Faults on purpose: the server's fault profile, its seeded draws, and the per-request headers.

A profile (PUT /sandbox/faults, or SANDBOX_FAULT_PROFILE at start) is a list of rules, each a
match (HTTP method and path glob, or MCP tool name), a rate and a fault. Each rule draws from a
random generator of its own, seeded from the profile's seed and the rule's place, once for each
request it matches: the same seed and the same sequence of requests give the same faults. The
profile lives in the server process (each worker of a multi-process server has its own).

A request can also ask for one fault itself: `Sandbox-Fault: status=503; retry_after=2`, or
Prism's `Prefer: code=503`. fault_injection.py strikes with what these choose; the MCP server
does for tool calls.
"""

import fnmatch
import http
import json
import random
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from constants import (
    DOCS_PATHS,
    DOCS_PREFIXES,
    FAULT_BY_HEADER,
    FAULT_BY_PREFER,
    FAULT_BY_PROFILE,
    FAULT_RETRY_AFTER,
    FAULT_STATUS,
    WRITE_METHODS,
)
from errors import InvalidFaultHeader, InvalidPreferCode
from models import Fault, FaultProfile, FaultProfileReport, FaultRule, FaultRuleReport

# Paths no profile rule strikes: the profile's own control (a rule for every path must leave a
# way to remove it), and the docs. A Sandbox-Fault header strikes anywhere.
EXEMPT_PATHS = DOCS_PATHS | {"/sandbox/faults"}
EXEMPT_PREFIXES = DOCS_PREFIXES
# The header's names for the model's fields.
HEADER_NAMES = {"retry-after": "retry_after", "ack-lost": "ack_lost"}
FLAGS = frozenset({"reset", "truncate", "ack_lost"})
# A number as the headers give one: ASCII digits, few enough to be read at once.
NUMBER = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class Strike:
    """A fault chosen for one request or tool call, and who chose it (for its message)."""

    fault: Fault
    by: str

    def status_detail(self) -> str:
        status = self.fault.status
        assert status is not None
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        detail = FAULT_STATUS.format(status=status, phrase=phrase, by=self.by)
        if self.fault.retry_after is not None:
            detail += FAULT_RETRY_AFTER.format(retry_after=self.fault.retry_after)
        return detail


def parse_fault_header(value: str) -> Fault:
    """The fault a Sandbox-Fault header names: `;`-separated `name=value` pairs and flags."""
    fields: dict[str, Any] = {}
    for part in value.split(";"):
        name, has_value, given = (piece.strip() for piece in part.partition("="))
        name = HEADER_NAMES.get(name.lower(), name.lower())
        if not name:
            continue
        if name in fields:
            raise InvalidFaultHeader(f"'{name[:32]}' is given twice")
        if name in FLAGS and not has_value:
            fields[name] = True
        elif name in Fault.model_fields and name not in FLAGS and has_value:
            fields[name] = int(given) if NUMBER.fullmatch(given) else given
        else:
            raise InvalidFaultHeader(f"'{part.strip()[:32]}' is not a fault or a setting of one")
    try:
        return Fault.model_validate(fields)
    except ValidationError as error:
        raise InvalidFaultHeader(_problems(error)) from None


def _problems(error: ValidationError) -> str:
    """Pydantic's errors in the header's words: a field's name before its problem, a problem
    of the whole fault alone."""
    problems = []
    for problem in error.errors():
        cause = problem.get("ctx", {}).get("error")
        text = str(cause) if problem["type"] == "value_error" else problem["msg"]
        location = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{location}: {text}" if location else text)
    return "; ".join(problems)


def parse_prefer(value: str) -> Fault | None:
    """The status fault Prism's `Prefer: code=NNN` asks for; None for a 1xx-3xx code (the
    operation's own answer) or a Prefer without a code."""
    for preference in value.split(","):
        name, _, code = (piece.strip() for piece in preference.partition("="))
        if name.lower() != "code":
            continue
        code = code.strip('"')
        if not NUMBER.fullmatch(code) or not 100 <= int(code) <= 599:
            raise InvalidPreferCode(code)
        return Fault(status=int(code)) if int(code) >= 400 else None
    return None


def requested_strike(headers: list[tuple[bytes, bytes]]) -> Strike | None:
    """The fault a request asks for with Sandbox-Fault (first) or Prefer: code=."""
    prefer = None
    for name, value in headers:
        if name == b"sandbox-fault":
            return Strike(parse_fault_header(value.decode("latin-1")), FAULT_BY_HEADER)
        if name == b"prefer":
            prefer = value
    if prefer is not None:
        fault = parse_prefer(prefer.decode("latin-1"))
        if fault is not None:
            return Strike(fault, FAULT_BY_PREFER)
    return None


def load_profile(setting: str) -> FaultProfile:
    """SANDBOX_FAULT_PROFILE: the profile's JSON itself, or the path of a file holding it."""
    text = setting if setting.lstrip().startswith("{") else Path(setting).read_text()
    return FaultProfile.model_validate(json.loads(text))


@dataclass
class _Rule:
    rule: FaultRule
    draws: random.Random
    matched: int = 0
    injected: int = 0

    def strikes(self) -> bool:
        self.matched += 1
        if self.draws.random() < self.rule.rate:
            self.injected += 1
            return True
        return False


@dataclass
class FaultInjector:
    """The server's fault profile, and the draws its rules make."""

    profile: FaultProfile = field(default_factory=FaultProfile)
    _rules: list[_Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.set(self.profile)

    @property
    def active(self) -> bool:
        return bool(self._rules)

    def set(self, profile: FaultProfile) -> FaultProfileReport:
        """Use this profile from now on, its draws and counts from the start."""
        with self._lock:
            self.profile = profile
            self._rules = [
                _Rule(rule, random.Random(f"{profile.seed}/{place}"))
                for place, rule in enumerate(profile.rules)
            ]
        return self.report()

    def clear(self) -> None:
        self.set(FaultProfile())

    def report(self) -> FaultProfileReport:
        with self._lock:
            return FaultProfileReport(
                seed=self.profile.seed,
                rules=[
                    FaultRuleReport(
                        **rule.rule.model_dump(), matched=rule.matched, injected=rule.injected
                    )
                    for rule in self._rules
                ],
            )

    def for_request(self, method: str, path: str) -> Strike | None:
        """The fault the profile strikes this HTTP request with, if any."""
        if path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            return None
        with self._lock:
            for rule in self._rules:
                match, fault = rule.rule.match, rule.rule.fault
                if (
                    match.tool is None
                    and (match.method is None or match.method == method)
                    and (match.path is None or fnmatch.fnmatchcase(path, match.path))
                    and (not fault.ack_lost or method in WRITE_METHODS)
                    and rule.strikes()
                ):
                    return Strike(fault, FAULT_BY_PROFILE)
        return None

    def for_tool(self, name: str, *, writes: bool) -> Strike | None:
        """The fault the profile strikes this MCP tool call with, if any (ack_lost: writes)."""
        with self._lock:
            for rule in self._rules:
                match, fault = rule.rule.match, rule.rule.fault
                if (
                    match.tool is not None
                    and fnmatch.fnmatchcase(name, match.tool)
                    and (not fault.ack_lost or writes)
                    and rule.strikes()
                ):
                    return Strike(fault, FAULT_BY_PROFILE)
        return None
