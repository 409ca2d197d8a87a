"""KRaft cluster ids the storage tool accepts."""

from __future__ import annotations

import base64
import uuid

import pytest

from devstack import apache_kafka


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # The first UUID would encode to "-..." (its first byte is 0xf8): it must be skipped.
    drawn = iter([uuid.UUID(bytes=b"\xf8" + b"\x00" * 15), uuid.UUID(int=1)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(drawn))

    cluster_id = apache_kafka.new_cluster_id()

    assert cluster_id == base64.urlsafe_b64encode(uuid.UUID(int=1).bytes).decode().rstrip("=")
    assert len(cluster_id) == 22
