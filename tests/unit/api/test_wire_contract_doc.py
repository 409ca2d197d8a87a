"""docs/wire-contract.md stays in step with journeys/contract.py and journeys/schema.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from journeys.contract import (
    CONTRACT_VERSION,
    DLQ_TOPIC,
    REPLIES_TOPIC,
    REQUESTS_TOPIC,
    Header,
    ReplyStatus,
    StatusFilter,
    decode_reply,
    decode_request,
)
from journeys.schema import COLUMN_NAMES, ID_PATTERN

DOC = Path(__file__).resolve().parents[3] / "docs" / "wire-contract.md"
EXAMPLE = re.compile(r"<!-- example: (request|reply) -->\n```json\n(.*?)\n```", re.DOTALL)


def examples(kind: str) -> list[bytes]:
    found = [body.encode() for k, body in EXAMPLE.findall(DOC.read_text()) if k == kind]
    assert found, f"no {kind} example in {DOC.name}"
    return found


def test_request_examples_parse_with_the_contract() -> None:
    versions = [decode_request(value).v for value in examples("request")]

    assert versions  # a document without request examples must not pass
    assert set(versions) == {CONTRACT_VERSION}


def test_reply_examples_parse_with_the_contract() -> None:
    statuses = {decode_reply(value).status for value in examples("reply")}

    assert ReplyStatus.OK in statuses


@pytest.mark.parametrize(
    "name",
    [
        REQUESTS_TOPIC,
        REPLIES_TOPIC,
        DLQ_TOPIC,
        Header.CORRELATION_ID,
        Header.REPLY_PARTITION,
        Header.DEADLINE,
        Header.TRACEPARENT,
        Header.CONTRACT_VERSION,
        Header.REASON,
        Header.REQUESTER_ID,
        Header.TRUNCATED,
        Header.ORIGINAL_SIZE,
        Header.ORIGINAL_SHA256,
        Header.HEDGE,
        *ReplyStatus,
        *StatusFilter,
        *COLUMN_NAMES,
    ],
)
def test_every_contract_name_is_documented(name: str) -> None:
    assert f"`{name}`" in DOC.read_text()


def test_the_id_rule_is_documented_verbatim() -> None:
    assert f"`{ID_PATTERN}`" in DOC.read_text()


def test_the_doc_says_a_responder_may_see_a_correlation_id_twice() -> None:
    text = DOC.read_text()
    assert "## Hedged requests" in text
    assert "may see a correlation id twice" in text
