"""A batch's offsets are committed in the background: the next poll never waits for the group
coordinator, one commit runs at a time, and a stop still commits everything answered.

Before, each batch awaited its commit; while the group coordinator moved to another broker
(a controlled shutdown in the three-broker rolling restart) aiokafka retried it for 2.25 s,
both responders stopped answering, and 381 lookups got 504.
"""

from __future__ import annotations

import asyncio

from aiokafka.errors import CommitFailedError
from aiokafka.structs import TopicPartition

from responder.commits import OffsetCommitter

P0 = TopicPartition("journey.requests", 0)
P1 = TopicPartition("journey.requests", 1)


class Coordinator:
    """Commits that wait until released, recorded in order."""

    def __init__(self) -> None:
        self.committed: list[dict[TopicPartition, int]] = []
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.refuse_next = False

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            if self.refuse_next:
                self.refuse_next = False
                raise CommitFailedError("the group rebalanced")
            self.committed.append(dict(offsets))
        finally:
            self.in_flight -= 1


async def test_submitting_returns_while_the_coordinator_is_away() -> None:
    coordinator = Coordinator()
    committer = OffsetCommitter(coordinator.commit)

    committer.submit({P0: 10})  # returns although the commit cannot finish yet

    assert committer.busy
    coordinator.release.set()
    assert await committer.flush(1.0)
    assert coordinator.committed == [{P0: 10}]


async def test_batches_answered_during_a_commit_are_merged_into_the_next_one() -> None:
    coordinator = Coordinator()
    committer = OffsetCommitter(coordinator.commit)
    committer.submit({P0: 10})
    await asyncio.sleep(0)  # the first commit is in flight

    committer.submit({P0: 12, P1: 3})
    committer.submit({P0: 11, P1: 5})
    coordinator.release.set()
    await committer.flush(1.0)

    assert coordinator.committed == [{P0: 10}, {P0: 12, P1: 5}]
    assert coordinator.most_in_flight == 1


async def test_a_refused_commit_is_counted_and_the_next_goes_ahead() -> None:
    coordinator = Coordinator()
    failures: list[None] = []
    committer = OffsetCommitter(coordinator.commit, lambda: failures.append(None))
    coordinator.refuse_next = True
    coordinator.release.set()

    committer.submit({P0: 10})
    await committer.flush(1.0)
    committer.submit({P0: 20})
    await committer.flush(1.0)

    assert len(failures) == 1
    assert coordinator.committed == [{P0: 20}]


async def test_closing_commits_what_was_answered_and_gives_up_a_hung_commit() -> None:
    coordinator = Coordinator()
    committer = OffsetCommitter(coordinator.commit)
    committer.submit({P0: 10})
    asyncio.get_running_loop().call_later(0.05, coordinator.release.set)

    await committer.close(1.0)
    assert coordinator.committed == [{P0: 10}]

    hung = Coordinator()
    committer = OffsetCommitter(hung.commit)
    committer.submit({P0: 10})
    await committer.close(0.05)
    assert not committer.busy
    assert hung.in_flight == 0
