"""The collector's own head sampling: X-Ray's sampling rules applied to traces as they arrive.

A trace is decided once, by its entry segment: the rules see what the stock SDK would show them
at the service the request entered (its name and origin, and the host, method and path of its
HTTP request). Subsegments sent ahead of their segment wait for it, up to the decision wait.
The reservoir is the collector's share of each rule's, as for any SDK client; the fixed-rate
test draws from a hash of the trace id, so that a trace decided again decides alike.

Two modes (``sampling.head``):

* ``honour``: a trace whose sender marked it sampled is kept as decided upstream; the rules
  decide the rest. Only OTLP spans carry such a mark (the W3C sampled bit of ``Span.flags``, which
  the Java SDK and the OpenTelemetry Collector set; the Python and Go SDKs leave it clear). The
  X-Ray daemon protocol has none, so the rules decide every X-Ray trace.
* ``resample``: the rules decide every trace, whatever its sender decided.
"""

import enum
from collections.abc import Iterable
from urllib.parse import urlsplit

from fluoroscope.assembly.decisions import HEAD, UPSTREAM, Verdict, uniform_draw
from fluoroscope.model.segment import Document, Segment
from fluoroscope.sampling import SamplingRequest
from fluoroscope.sampling.reservoir import Sampler

_SALT = b"fluoroscope-head"
_UPSTREAM = Verdict(True, "", 1.0, UPSTREAM)


class HeadMode(enum.Enum):
    """Which arriving traces the rules decide."""

    OFF = "off"
    HONOUR = "honour"
    RESAMPLE = "resample"


class HeadSampler:
    """Decides a trace from its documents by the rules a :class:`Sampler` holds."""

    def __init__(self, sampler: Sampler, mode: HeadMode) -> None:
        if mode is HeadMode.OFF:
            raise ValueError("head sampling is off; make no HeadSampler")
        self.sampler = sampler
        self.mode = mode

    def decide(self, trace_id: str, documents: Iterable[Document], waited: bool) -> Verdict | None:
        """The verdict on a trace, or None to wait for its entry segment.

        ``waited`` says the decision wait is over: decide on what has arrived.
        """
        entry: Document | None = None
        fallback: Document | None = None
        for document in documents:
            if self.mode is HeadMode.HONOUR and document.sampled:
                return _UPSTREAM
            if not document.independent and (entry is None or document.parent_id is None):
                entry = document
            elif fallback is None:
                fallback = document
        if entry is None or entry.parent_id is not None:
            # No segment yet, or only one called by a service that has not reported.
            if not waited:
                return None
            entry = entry or fallback
        sampler = self.sampler
        decision = sampler.decide(
            request_of(entry.view() if entry else None, sampler.ruleset.examines_url),
            lambda: uniform_draw(trace_id, _SALT),
        )
        return Verdict(decision.sampled, decision.rule_name, decision.probability, HEAD)


def request_of(segment: Segment | None, with_url: bool = True) -> SamplingRequest:
    """What the rules match: the stock SDK's view of the request that started ``segment``.

    A subsegment (the only document of a trace whose segment never came) has no service of
    its own, so only its HTTP request is offered; absent attributes match every pattern.
    ``with_url=False`` leaves out the host and path (when no rule tests them).
    """
    if segment is None:
        return SamplingRequest()
    host = method = path = None
    request = segment.http.request if segment.http is not None else None
    if request is not None:
        method = request.method
        if request.url and with_url:
            try:
                parts = urlsplit(request.url)
            except ValueError:  # an unparsable URL from the network: match it as a path
                path = request.url
            else:
                # The Host header the SDK matches carries the port when the URL has one.
                host = parts.netloc.rpartition("@")[2] or None
                path = parts.path or "/"
    if segment.type is not None:
        return SamplingRequest(None, None, host, method, path)
    return SamplingRequest(segment.name, segment.origin, host, method, path)
