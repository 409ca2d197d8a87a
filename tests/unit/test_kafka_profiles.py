"""Client settings per broker profile: what each profile turns on, and what overrides win."""

from __future__ import annotations

from journeys.kafka import KafkaSettings, consumer_kwargs, producer_kwargs


def test_the_apache_profile_waits_for_all_replicas_with_an_idempotent_producer() -> None:
    kwargs = producer_kwargs(KafkaSettings(profile="apache"), role="gateway")
    assert kwargs["acks"] == "all"
    assert kwargs["enable_idempotence"] is True


def test_the_tansu_profile_keeps_idempotence_off_because_tansu_cannot_give_a_producer_id() -> None:
    kwargs = producer_kwargs(KafkaSettings(profile="embedded"), role="gateway")
    assert kwargs["acks"] == 1
    assert kwargs["enable_idempotence"] is False


def test_acks_one_on_apache_turns_idempotence_off_instead_of_failing() -> None:
    kwargs = producer_kwargs(KafkaSettings(profile="apache", producer_acks="1"), role="x")
    assert (kwargs["acks"], kwargs["enable_idempotence"]) == (1, False)


def test_fetch_waits_and_sessions_follow_the_profile_unless_set() -> None:
    apache = consumer_kwargs(KafkaSettings(profile="apache"), role="r")
    tansu = consumer_kwargs(KafkaSettings(profile="embedded"), role="r")
    assert (apache["fetch_max_wait_ms"], apache["session_timeout_ms"]) == (500, 10_000)
    assert (tansu["fetch_max_wait_ms"], tansu["session_timeout_ms"]) == (5, 2_000)
    set_by_hand = KafkaSettings(profile="apache", fetch_max_wait_ms=50)
    assert consumer_kwargs(set_by_hand, role="r")["fetch_max_wait_ms"] == 50
