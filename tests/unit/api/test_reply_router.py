"""ReplyRouter: replies resolve their request; late, duplicate and unknown ones are counted."""

from __future__ import annotations

import asyncio

import pytest

from api.reply_router import RepliesLost, ReplyRouter, correlation_id_of, deadline_of


def counting_router(capacity: int = 100) -> tuple[ReplyRouter, list[str]]:
    outcomes: list[str] = []
    return ReplyRouter(on_reply=outcomes.append, recent_capacity=capacity), outcomes


async def test_a_reply_resolves_the_request_with_its_value() -> None:
    router, outcomes = counting_router()
    future = router.expect("c1")

    assert router.deliver("c1", b"value") == "matched"
    assert await asyncio.wait_for(future, 1) == b"value"
    assert outcomes == ["matched"]


async def test_a_second_reply_is_a_duplicate_before_and_after_the_request_finishes() -> None:
    router, outcomes = counting_router()
    router.expect("c1")
    router.deliver("c1", b"first")

    assert router.deliver("c1", b"again") == "duplicate"
    router.forget("c1")
    assert router.deliver("c1", b"third") == "duplicate"
    assert outcomes == ["matched", "duplicate", "duplicate"]


async def test_a_reply_after_the_request_gave_up_is_late() -> None:
    router, _ = counting_router()
    future = router.expect("c1")
    router.forget("c1")

    assert future.cancelled()
    assert router.deliver("c1", b"value") == "late"
    assert router.pending == 0


async def test_replies_never_sent_here_or_without_id_are_unknown_or_uncorrelated() -> None:
    router, outcomes = counting_router()

    assert router.deliver("someone-else", b"x") == "unknown"
    assert router.deliver(None, b"x") == "uncorrelated"
    assert outcomes == ["unknown", "uncorrelated"]


async def test_finished_ids_are_remembered_only_up_to_the_capacity() -> None:
    router, _ = counting_router(capacity=2)
    for name in ("a", "b", "c"):
        router.expect(name)
        router.forget(name)

    assert router.deliver("a", b"x") == "unknown"
    assert router.deliver("c", b"x") == "late"


async def test_cancel_all_gives_up_every_waiting_request() -> None:
    router, _ = counting_router()
    futures = [router.expect(name) for name in ("a", "b")]

    router.cancel_all()

    assert all(future.cancelled() for future in futures)
    assert router.pending == 0


def test_correlation_id_is_read_from_the_record_headers() -> None:
    headers = [("traceparent", b"00-x"), ("correlation-id", b"abc123")]

    assert correlation_id_of(headers) == "abc123"
    assert correlation_id_of([("correlation-id", b"\xff\xfe")]) is None
    assert correlation_id_of(None) is None
    assert correlation_id_of([("correlation-id", b"")]) is None


async def test_a_reply_naming_another_gateway_is_foreign_and_remembered_once() -> None:
    outcomes: list[str] = []
    router = ReplyRouter(on_reply=outcomes.append, instance_id="me")
    future = router.expect("c1")

    assert router.deliver("c-other", b"x", "other-gateway") == "foreign"
    assert router.deliver("c-other-2", b"x", "other-gateway") == "foreign"
    assert router.deliver("c1", b"mine", "me") == "matched"
    assert await asyncio.wait_for(future, 1) == b"mine"
    assert router.foreign_requesters == ["other-gateway"]
    assert outcomes == ["foreign", "foreign", "matched"]


async def test_a_lost_reply_log_fails_only_the_waiting_requests_with_replies_lost() -> None:
    router = ReplyRouter()
    waiting = router.expect("a")
    answered = router.expect("b")
    router.deliver("b", b"reply")

    assert router.replies_lost() == 1

    with pytest.raises(RepliesLost):
        await waiting
    assert await answered == b"reply"
    again = router.expect("a")  # the requester sends it again under the same id
    assert router.deliver("a", b"second") == "matched"
    assert await again == b"second"


def test_a_reply_to_a_request_of_this_gateways_previous_process_is_no_alarm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A restarted gateway reads late replies to its previous process (another requester id):
    # their requests' deadlines passed before this process started. Before: counted foreign,
    # an error logged ("two instances share one reply partition") and a /readyz warning.
    router = ReplyRouter(instance_id="me-now", started_ms=1_000_000)

    outcome = router.deliver("c-old", b"x", "me-before", deadline_ms=999_000)

    assert outcome == "previous"
    assert router.foreign_requesters == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    # A live other instance's request (deadline after our start) still raises the alarm,
    # and so does a reply without the deadline header (a responder of an older version).
    assert router.deliver("c-live", b"x", "other", deadline_ms=1_002_000) == "foreign"
    assert router.deliver("c-old-2", b"x", "older-responder") == "foreign"
    assert router.foreign_requesters == ["other", "older-responder"]


def test_the_deadline_is_read_from_the_reply_headers_and_junk_is_none() -> None:
    assert deadline_of([("deadline", b"1767225600000")]) == 1_767_225_600_000
    for junk in (b"", b"-5", b"12x", b"\xff", "٣".encode(), b"9" * 20):
        assert deadline_of([("deadline", junk)]) is None
    assert deadline_of([]) is None
