"""Realistic X-Ray segment documents, generated fast enough to send 60,000 a second.

Documents are laid out as the aws-xray-sdk writes them (key order, separators, the ``aws.xray``
and ``service`` blocks, ``in_progress: false`` beside ``end_time``): an entry segment with an HTTP
request, annotations, a DynamoDB call and a remote call, and downstream segments of other
services whose ``parent_id`` is that remote call. Every id is unique: trace ids combine a
per-run random prefix, the sender's number and a counter.
"""

import random
import time

HEADER = b'{"format":"json","version":1}\n'
# Ids are (sender, counter) with four low bits for the entities of one trace: root 0, its
# DynamoDB call 1, its remote call 2, then two per downstream segment.
MAX_SEGMENTS = 7

_SERVICES = ("checkout", "cart", "payments", "inventory", "shipping", "search", "users", "ads")
_CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka")
_STATUSES = (200,) * 17 + (404, 429, 500)

_ROOT = (
    '{{"id": "{sid}", "name": "{service}", "start_time": {start:.6f}, "in_progress": false, '
    '"http": {{"request": {{"url": "https://{service}.example.com/api/orders/{n}", '
    '"method": "POST", "user_agent": "bench/1.0", "client_ip": "10.0.{a}.{b}"}}, '
    '"response": {{"status": {status}}}}}, '
    '"annotations": {{"customer": "{customer}", "items": {items}, "vip": {vip}}}, '
    '"aws": {{"xray": {{"sdk": "X-Ray for Python", "sdk_version": "2.15.0"}}}}, '
    '"subsegments": [{{"id": "{db}", "name": "DynamoDB", "start_time": {s1:.6f}, '
    '"in_progress": false, "aws": {{"operation": "PutItem", "table_name": "orders"}}, '
    '"namespace": "aws", "end_time": {e1:.6f}}}, '
    '{{"id": "{remote}", "name": "{downstream}", "start_time": {s2:.6f}, '
    '"in_progress": false, "namespace": "remote", "end_time": {e2:.6f}}}], '
    '"trace_id": "{tid}", "end_time": {end:.6f}{fault}}}'
)
_DOWNSTREAM = (
    '{{"id": "{sid}", "name": "{service}", "start_time": {start:.6f}, "parent_id": "{parent}", '
    '"in_progress": false, "http": {{"request": {{"url": '
    '"https://{service}.example.com/v1/reserve", "method": "POST", "client_ip": "10.1.{a}.{b}"}}, '
    '"response": {{"status": 200}}}}, "annotations": {{"region": "us-east-1", "shard": {items}}}, '
    '"aws": {{"xray": {{"sdk": "X-Ray for Python", "sdk_version": "2.15.0"}}}}, '
    '"subsegments": [{{"id": "{local}", "name": "reserve_stock", "start_time": {s1:.6f}, '
    '"in_progress": false, "namespace": "local", "end_time": {e1:.6f}}}], "trace_id": "{tid}", '
    '"end_time": {end:.6f}}}'
)
_FLAGS = {5: ', "fault": true', 4: ', "error": true'}


class TraceGenerator:
    """Makes traces of ``segments`` documents each, with ids unique to this generator."""

    def __init__(self, sender: int, segments: int, seed: int | None = None) -> None:
        if not 1 <= segments <= MAX_SEGMENTS:
            raise ValueError(f"segments per trace must be 1-{MAX_SEGMENTS}")
        self._random = random.Random(seed)
        self._prefix = self._random.getrandbits(56)
        self._sender = sender
        self._segments = segments
        self._count = 0

    def trace(self, now: float | None = None) -> tuple[str, list[bytes]]:
        """The next trace: its id and its documents, each with the daemon-protocol header."""
        start = time.time() if now is None else now
        n = self._count
        self._count += 1
        rnd = self._random
        tid = f"1-{int(start):08x}-{self._prefix:014x}{self._sender:02x}{n:08x}"
        base = (self._sender << 40) | (n << 4)
        sid = f"{base:016x}"
        remote = f"{base | 2:016x}"
        service = _SERVICES[n % len(_SERVICES)]
        downstream = _SERVICES[(n + 1) % len(_SERVICES)]
        status = rnd.choice(_STATUSES)
        duration = 0.02 + rnd.random() * 0.2
        root = _ROOT.format(
            sid=sid,
            service=service,
            start=start,
            n=n,
            a=n % 250,
            b=(n >> 8) % 250,
            status=status,
            customer=_CUSTOMERS[n % len(_CUSTOMERS)],
            items=n % 10,
            vip="true" if n % 7 == 0 else "false",
            db=f"{base | 1:016x}",
            s1=start + 0.001,
            e1=start + 0.004,
            tid=tid,
            remote=remote,
            downstream=downstream,
            s2=start + 0.005,
            e2=start + duration - 0.002,
            end=start + duration,
            fault=', "fault": true'
            if status >= 500
            else (', "error": true' if status >= 400 else ""),
        )
        documents = [HEADER + root.encode()]
        for k in range(1, self._segments):
            documents.append(
                HEADER
                + _DOWNSTREAM.format(
                    sid=f"{base | (2 * k + 1):016x}",
                    service=_SERVICES[(n + k) % len(_SERVICES)],
                    start=start + 0.006,
                    parent=remote,
                    a=k,
                    b=n % 250,
                    items=k,
                    local=f"{base | (2 * k + 2):016x}",
                    s1=start + 0.007,
                    e1=start + 0.009,
                    tid=tid,
                    end=start + duration - 0.003,
                ).encode()
            )
        # Downstream services finish before their caller, so their segments are sent first.
        documents.reverse()
        return tid, documents
