"""Fixtures for the sampling tests: rule factories, scripted draws, the stock SDK's parser."""

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from fluoroscope.sampling import SamplingRule

CLIENT_A = "a" * 24
CLIENT_B = "b" * 24
CLIENT_C = "c" * 24


def rule_api(*, omit: Iterable[str] = (), **members: Any) -> dict[str, Any]:
    """A valid botocore ``SamplingRule`` structure; keyword arguments replace its members and
    ``omit`` names members to leave out."""
    api: dict[str, Any] = {
        "RuleName": "checkout",
        "ResourceARN": "*",
        "Priority": 100,
        "FixedRate": 0.1,
        "ReservoirSize": 2,
        "ServiceName": "checkout",
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": "*",
        "URLPath": "*",
        "Version": 1,
    }
    api.update(members)
    for key in omit:
        del api[key]
    return api


@pytest.fixture
def make_rule() -> Callable[..., SamplingRule]:
    """Build a valid rule; keyword arguments replace members of :func:`rule_api`."""

    def make(**members: Any) -> SamplingRule:
        return SamplingRule.from_api(rule_api(**members))

    return make


class ScriptedRandom:
    """A random source that returns the given draws in order, then fails loudly."""

    def __init__(self, draws: Iterable[float]) -> None:
        self._draws = iter(draws)

    def __call__(self) -> float:
        return next(self._draws)


@pytest.fixture
def scripted() -> Callable[[Iterable[float]], ScriptedRandom]:
    """Make a random source from a list of draws."""
    return ScriptedRandom


def botocore_parse(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """Parse a response body as botocore does for ``operation``: what boto3 callers receive."""
    import botocore.session
    from botocore.parsers import create_parser

    model = botocore.session.get_session().get_service_model("xray")
    shape = model.operation_model(operation).output_shape
    response = {"status_code": 200, "headers": {}, "body": json.dumps(body).encode()}
    parsed: dict[str, Any] = create_parser("rest-json").parse(response, shape)
    return parsed


class StubXRayClient:
    """Stands in for the SDK's botocore client, answering with bodies botocore has parsed."""

    def __init__(self) -> None:
        self.rules_body: dict[str, Any] = {"SamplingRuleRecords": []}
        self.targets_body: dict[str, Any] = {}
        self.reported: list[dict[str, Any]] = []

    def get_sampling_rules(self) -> dict[str, Any]:
        """GetSamplingRules, as the SDK's rule poller calls it."""
        return botocore_parse("GetSamplingRules", self.rules_body)

    def get_sampling_targets(self, **request: Any) -> dict[str, Any]:
        """GetSamplingTargets, as the SDK's target poller calls it."""
        self.reported.extend(request["SamplingStatisticsDocuments"])
        return botocore_parse("GetSamplingTargets", self.targets_body)


@pytest.fixture
def sdk_connector() -> Any:
    """The stock SDK's sampling connector, talking to a :class:`StubXRayClient`."""
    from aws_xray_sdk.core.sampling.connector import ServiceConnector

    connector = ServiceConnector()
    connector.setup_xray_client(ip=None, port=None, client=StubXRayClient())
    return connector
