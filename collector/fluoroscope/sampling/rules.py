"""Sampling rules as X-Ray's API defines them: parsing, limits, updates and the ``Default`` rule.

The wire shapes are botocore's ``SamplingRule``, ``SamplingRuleRecord`` and ``SamplingRuleUpdate``
(xray-protocol.md 6.2, 6.6, 6.9). botocore checks only minimums before it sends, so every maximum
is enforced here (xray-protocol.md 7.1, 11). A refused field raises :class:`RuleError`, an
:class:`~fluoroscope.errors.ApiError` that names the field and carries X-Ray's error code.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from fluoroscope.errors import ApiError

INVALID_REQUEST = "InvalidRequestException"
RULE_LIMIT_EXCEEDED = "RuleLimitExceededException"

DEFAULT_RULE_NAME = "Default"
DEFAULT_PRIORITY = 10000
# X-Ray's own Default: the first request each second plus 5% of the rest (xray-protocol.md 6.1).
DEFAULT_FIXED_RATE = 0.05
DEFAULT_RESERVOIR_SIZE = 1

# How many rules may exist besides Default. AWS's quota is commonly cited as 25 and whether it
# counts Default is not documented (UNVERIFIED); leaving Default out of the count means nothing
# that AWS accepts is refused here.
RULE_COUNT_LIMIT = 25

MAX_RULE_NAME = 32
MAX_PRIORITY = 9999
MAX_ATTRIBUTES = 5
MAX_ATTRIBUTE_LENGTH = 32
# The model's integers are 32-bit (Java ``int``); anything larger would break other clients.
MAX_INT32 = 2**31 - 1

# Maximum lengths of the string members (botocore model, xray-protocol.md 11).
STRING_LIMITS: Mapping[str, int] = {
    "ResourceARN": 500,
    "ServiceName": 64,
    "ServiceType": 64,
    "Host": 64,
    "HTTPMethod": 10,
    "URLPath": 128,
}

# The members Default always has; only FixedRate, ReservoirSize and SamplingRateBoost change.
DEFAULT_FIXED_FIELDS: Mapping[str, object] = {
    "ResourceARN": "*",
    "Priority": DEFAULT_PRIORITY,
    "ServiceName": "*",
    "ServiceType": "*",
    "Host": "*",
    "HTTPMethod": "*",
    "URLPath": "*",
    "Version": 1,
    "Attributes": {},
}

# Docs examples show the account part both filled and empty (xray-protocol.md 6.9).
_ARN = re.compile(r"arn:aws[a-z-]*:xray:([^:]*):([^:]*):sampling-rule/(.+)", re.DOTALL)


class RuleError(ApiError):
    """A sampling rule or rule request X-Ray would refuse; ``field`` names the member at fault.

    ``code`` is the X-Ray error shape (``InvalidRequestException`` or
    ``RuleLimitExceededException``); the wire message is ``"<field>: <reason>"``.
    """

    def __init__(self, field: str, reason: str, code: str = INVALID_REQUEST) -> None:
        super().__init__(f"{field}: {reason}", code)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RateBoost:
    """A rule's ``SamplingRateBoost``: kept and served back, never acted on."""

    max_rate: float
    cooldown_window_minutes: int

    def to_api(self) -> dict[str, Any]:
        """The botocore ``SamplingRateBoost`` structure."""
        return {"MaxRate": self.max_rate, "CooldownWindowMinutes": self.cooldown_window_minutes}


@dataclass(frozen=True, slots=True)
class SamplingRule:
    """One centralized sampling rule with its record times (epoch seconds).

    ``rule_arn`` is empty until a :class:`~fluoroscope.sampling.RuleBook` stores the rule.

    ``attributes`` is a tuple of (key, value) pairs sorted by key, so that a rule is immutable
    and hashable; :meth:`to_api` serves it as the ``Attributes`` map.
    """

    rule_name: str
    rule_arn: str
    resource_arn: str
    priority: int
    fixed_rate: float
    reservoir_size: int
    service_name: str
    service_type: str
    host: str
    http_method: str
    url_path: str
    version: int = 1
    attributes: tuple[tuple[str, str], ...] = ()
    created_at: float = 0.0
    modified_at: float = 0.0
    sampling_rate_boost: RateBoost | None = None

    @property
    def is_default(self) -> bool:
        """Whether this is the reserved catch-all rule."""
        return self.rule_name == DEFAULT_RULE_NAME

    @classmethod
    def from_api(
        cls, data: object, *, created_at: float = 0.0, modified_at: float = 0.0
    ) -> "SamplingRule":
        """Parse and validate a botocore ``SamplingRule`` structure.

        Every member the model requires must be present. The rule is named by ``RuleName``,
        ``RuleARN`` or both when they agree. Unknown members are ignored.
        """
        body = _structure(data, "SamplingRule")
        name = rule_name_of(body)
        rule = cls(
            rule_name=name,
            rule_arn=_string(body, "RuleARN", None, required=False) or "",
            resource_arn=_limited(body, "ResourceARN"),
            priority=_priority(body, name),
            fixed_rate=_rate(body, "FixedRate"),
            reservoir_size=_integer(body, "ReservoirSize", 0, MAX_INT32),
            service_name=_limited(body, "ServiceName"),
            service_type=_limited(body, "ServiceType"),
            host=_limited(body, "Host"),
            http_method=_limited(body, "HTTPMethod"),
            url_path=_limited(body, "URLPath"),
            version=_version(body),
            attributes=_attributes(body),
            created_at=created_at,
            modified_at=modified_at,
            sampling_rate_boost=_boost(body),
        )
        if rule.is_default:
            _check_default_shape(rule.to_api())
        return rule

    @classmethod
    def from_record(cls, data: object) -> "SamplingRule":
        """Parse a botocore ``SamplingRuleRecord``: the rule and its CreatedAt / ModifiedAt."""
        record = _structure(data, "SamplingRuleRecord")
        return cls.from_api(
            record.get("SamplingRule"),
            created_at=_timestamp(record, "CreatedAt"),
            modified_at=_timestamp(record, "ModifiedAt"),
        )

    def to_api(self) -> dict[str, Any]:
        """The botocore ``SamplingRule`` structure, with every member the stock SDK reads.

        The Python SDK reads RuleName, Priority, FixedRate, ReservoirSize, Host, ServiceName,
        HTTPMethod, URLPath and ServiceType by direct key access and checks Version,
        ResourceARN and Attributes (xray-protocol.md 6.6), so none is ever left out.
        """
        api: dict[str, Any] = {
            "RuleName": self.rule_name,
            "RuleARN": self.rule_arn,
            "ResourceARN": self.resource_arn,
            "Priority": self.priority,
            "FixedRate": float(self.fixed_rate),
            "ReservoirSize": self.reservoir_size,
            "ServiceName": self.service_name,
            "ServiceType": self.service_type,
            "Host": self.host,
            "HTTPMethod": self.http_method,
            "URLPath": self.url_path,
            "Version": self.version,
            "Attributes": dict(self.attributes),
        }
        if not self.rule_arn:  # a rule not yet stored has no ARN; the SDK never reads it
            del api["RuleARN"]
        if self.sampling_rate_boost is not None:
            api["SamplingRateBoost"] = self.sampling_rate_boost.to_api()
        return api

    def to_record(self) -> dict[str, Any]:
        """The botocore ``SamplingRuleRecord`` structure GetSamplingRules and CRUD calls return."""
        return {
            "SamplingRule": self.to_api(),
            "CreatedAt": float(self.created_at),
            "ModifiedAt": float(self.modified_at),
        }


def rule_arn(name: str, region: str, account: str) -> str:
    """The ARN of rule ``name``: ``arn:aws:xray:<region>:<account>:sampling-rule/<name>``."""
    return f"arn:aws:xray:{region}:{account}:sampling-rule/{name}"


def name_from_arn(arn: str, field: str = "RuleARN") -> str:
    """The rule name at the end of a sampling-rule ARN; anything else is a :class:`RuleError`."""
    match = _ARN.fullmatch(arn)
    if match is None:
        raise RuleError(field, "must be arn:aws:xray:<region>:<account>:sampling-rule/<name>")
    name = match.group(3)
    _check_length(field, name, 1, MAX_RULE_NAME)
    return name


def rule_name_of(body: Mapping[str, Any]) -> str:
    """The rule a request names by ``RuleName``, ``RuleARN``, or both when they agree."""
    name = _string(body, "RuleName", MAX_RULE_NAME, required=False, min_length=1)
    arn = _string(body, "RuleARN", None, required=False)
    if not arn:  # an empty ARN names nothing, like an absent one
        if name is None:
            raise RuleError("RuleName", "name the rule by RuleName or RuleARN")
        return name
    from_arn = name_from_arn(arn)
    if name is not None and name != from_arn:
        raise RuleError("RuleARN", f"names rule {from_arn!r}, not {name!r}")
    return from_arn


def default_rule(
    *,
    region: str = "us-east-1",
    account: str = "000000000000",
    fixed_rate: float = DEFAULT_FIXED_RATE,
    reservoir_size: int = DEFAULT_RESERVOIR_SIZE,
    created_at: float = 0.0,
    modified_at: float = 0.0,
) -> SamplingRule:
    """The reserved ``Default`` rule: priority 10000, every matcher ``*``, Version 1."""
    return SamplingRule(
        rule_name=DEFAULT_RULE_NAME,
        rule_arn=rule_arn(DEFAULT_RULE_NAME, region, account),
        resource_arn="*",
        priority=DEFAULT_PRIORITY,
        fixed_rate=fixed_rate,
        reservoir_size=reservoir_size,
        service_name="*",
        service_type="*",
        host="*",
        http_method="*",
        url_path="*",
        created_at=created_at,
        modified_at=modified_at,
    )


def apply_update(rule: SamplingRule, update: object, *, now: float) -> SamplingRule:
    """``rule`` changed as a botocore ``SamplingRuleUpdate`` asks, modified at ``now``.

    Members absent or null keep their value. The update must name ``rule`` by RuleName or
    RuleARN. On ``Default`` only FixedRate, ReservoirSize and SamplingRateBoost may change; any
    other member is refused unless it repeats the current value.
    """
    body = _structure(update, "SamplingRuleUpdate")
    if rule_name_of(body) != rule.rule_name:
        raise RuleError("RuleName", f"the update names another rule than {rule.rule_name!r}")
    present = {key for key, value in body.items() if value is not None}
    if rule.is_default:
        current = rule.to_api()
        for key in sorted(present & DEFAULT_FIXED_FIELDS.keys()):
            if body[key] != current[key]:
                raise RuleError(key, "only FixedRate and ReservoirSize of Default can change")
    changes: dict[str, Any] = {}
    if "ResourceARN" in present:
        changes["resource_arn"] = _limited(body, "ResourceARN")
    if "Priority" in present and not rule.is_default:
        changes["priority"] = _priority(body, rule.rule_name)
    if "FixedRate" in present:
        changes["fixed_rate"] = _rate(body, "FixedRate")
    if "ReservoirSize" in present:
        changes["reservoir_size"] = _integer(body, "ReservoirSize", 0, MAX_INT32)
    for key, attribute in _MATCHERS.items():
        if key in present:
            changes[attribute] = _limited(body, key)
    if "Attributes" in present:
        changes["attributes"] = _attributes(body)
    if "SamplingRateBoost" in present:
        changes["sampling_rate_boost"] = _boost(body)
    return replace(rule, modified_at=now, **changes)


def check_deletable(rule: SamplingRule) -> None:
    """Refuse to delete ``Default``, which every client relies on as the catch-all."""
    if rule.is_default:
        raise RuleError("RuleName", "the Default rule cannot be deleted")


def check_rule_count(existing: int, limit: int = RULE_COUNT_LIMIT) -> None:
    """Refuse a new rule when ``existing`` rules (not counting Default) already reach ``limit``."""
    if existing >= limit:
        raise RuleError(
            "SamplingRule",
            f"at most {limit} sampling rules besides Default may exist",
            RULE_LIMIT_EXCEEDED,
        )


# The matcher members that an update may change, and the rule attribute each one sets.
_MATCHERS = {
    "ServiceName": "service_name",
    "ServiceType": "service_type",
    "Host": "host",
    "HTTPMethod": "http_method",
    "URLPath": "url_path",
}


def _structure(data: object, name: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise RuleError(name, "must be an object")
    return data


def _check_default_shape(api: Mapping[str, Any]) -> None:
    for key, value in DEFAULT_FIXED_FIELDS.items():
        if api[key] != value:
            raise RuleError(key, f"the Default rule's {key} is always {value!r}")


def _check_length(field: str, value: str, low: int, high: int | None) -> None:
    if len(value) < low:
        raise RuleError(field, f"must be at least {low} characters")
    if high is not None and len(value) > high:
        raise RuleError(field, f"must be at most {high} characters")


def _string(
    body: Mapping[str, Any],
    key: str,
    max_length: int | None,
    *,
    required: bool,
    min_length: int = 0,
) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise RuleError(key, "is required")
        return None
    if not isinstance(value, str):
        raise RuleError(key, "must be a string")
    _check_length(key, value, min_length, max_length)
    return value


def _limited(body: Mapping[str, Any], key: str) -> str:
    value = _string(body, key, STRING_LIMITS[key], required=True)
    assert value is not None  # required=True raises instead
    return value


def _integer(body: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = body.get(key)
    if value is None:
        raise RuleError(key, "is required")
    # JSON has one number type: 5.0 is 5, but 5.5 and true are not integers.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(key, "must be an integer")
    if not low <= value <= high:
        raise RuleError(key, f"must be between {low} and {high}")
    return value


def _rate(body: Mapping[str, Any], key: str) -> float:
    value = body.get(key)
    if value is None:
        raise RuleError(key, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(key, "must be a number")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise RuleError(key, "must be between 0 and 1")
    return float(value)


def _priority(body: Mapping[str, Any], name: str) -> int:
    if name == DEFAULT_RULE_NAME:
        return _integer(body, "Priority", DEFAULT_PRIORITY, DEFAULT_PRIORITY)
    return _integer(body, "Priority", 1, MAX_PRIORITY)


def _version(body: Mapping[str, Any]) -> int:
    version = _integer(body, "Version", 1, MAX_INT32)
    if version != 1:
        raise RuleError("Version", "must be 1, the only rule format there is")
    return version


def _attributes(body: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    value = body.get("Attributes")
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise RuleError("Attributes", "must be a map of strings")
    if len(value) > MAX_ATTRIBUTES:
        raise RuleError("Attributes", f"at most {MAX_ATTRIBUTES} entries")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise RuleError("Attributes", "keys and values must be strings")
        if not (1 <= len(key) <= MAX_ATTRIBUTE_LENGTH and 1 <= len(item) <= MAX_ATTRIBUTE_LENGTH):
            raise RuleError("Attributes", f"keys and values must be 1-{MAX_ATTRIBUTE_LENGTH} long")
    return tuple(sorted(value.items()))


def _boost(body: Mapping[str, Any]) -> RateBoost | None:
    value = body.get("SamplingRateBoost")
    if value is None:
        return None
    boost = _structure(value, "SamplingRateBoost")
    try:
        return RateBoost(
            _rate(boost, "MaxRate"), _integer(boost, "CooldownWindowMinutes", 0, MAX_INT32)
        )
    except RuleError as error:
        raise RuleError(f"SamplingRateBoost.{error.field}", error.reason) from None


def _timestamp(record: Mapping[str, Any], key: str) -> float:
    value = record.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RuleError(key, "must be epoch seconds")
    return float(value)
