"""Conformance: leader election and queue records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from conformance import DriverHandle, Listening

from river_core.driver import (
    TOPIC_LEADERSHIP,
    Leader,
    LeaderElectParams,
    LeaderReelectParams,
    LeaderResignParams,
    QueueCreateOrSetUpdatedAtParams,
    QueueUpdateParams,
)

NOW = datetime(2025, 6, 7, 8, 9, 10, 111213, tzinfo=UTC)
PAST_TIME = NOW - timedelta(days=1)
TTL = timedelta(seconds=30)


# -- leader --------------------------------------------------------------------------------


def test_leader_elect_reelect_and_expiry(handle: DriverHandle) -> None:
    elected = handle.run(
        lambda ex: ex.leader_attempt_elect(LeaderElectParams("client-1", TTL, NOW))
    )
    assert elected == Leader("client-1", NOW, NOW + TTL)
    rival = LeaderElectParams("client-2", TTL, NOW + timedelta(seconds=1))
    assert handle.run(lambda ex: ex.leader_attempt_elect(rival)) is None
    assert handle.run(lambda ex: ex.leader_get_elected_leader()) == elected

    later = NOW + timedelta(seconds=10)
    reelect = LeaderReelectParams("client-1", NOW, TTL, later)
    assert handle.run(lambda ex: ex.leader_attempt_reelect(reelect)) == Leader(
        "client-1", NOW, later + TTL
    )
    for wrong in (
        LeaderReelectParams("client-2", NOW, TTL, later),
        LeaderReelectParams("client-1", NOW + timedelta(microseconds=1), TTL, later),
        LeaderReelectParams("client-1", NOW, TTL, later + TTL + timedelta(seconds=1)),  # expired
    ):
        assert handle.run(lambda ex, p=wrong: ex.leader_attempt_reelect(p)) is None

    assert handle.run(lambda ex: ex.leader_delete_expired(later)) == 0
    assert handle.run(lambda ex: ex.leader_delete_expired(later + TTL + timedelta(seconds=1))) == 1
    assert handle.run(lambda ex: ex.leader_get_elected_leader()) is None
    assert handle.run(lambda ex: ex.leader_attempt_elect(rival)) is not None


def test_leader_elect_defaults_to_database_time(handle: DriverHandle) -> None:
    leader = handle.run(lambda ex: ex.leader_attempt_elect(LeaderElectParams("c", TTL)))
    assert leader is not None
    assert abs(leader.elected_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert leader.expires_at - leader.elected_at == TTL
    reelect = LeaderReelectParams("c", leader.elected_at, timedelta(minutes=5))
    renewed = handle.run(lambda ex: ex.leader_attempt_reelect(reelect))
    assert renewed is not None and renewed.expires_at > leader.expires_at
    assert handle.run(lambda ex: ex.leader_delete_expired()) == 0


def test_leader_resign_deletes_and_notifies(
    handle: DriverHandle, listening: Listening, notification_payloads: dict[str, Any]
) -> None:
    handle.run(lambda ex: ex.leader_attempt_elect(LeaderElectParams("client-1", TTL, NOW)))
    listening.listen(handle.schema, TOPIC_LEADERSHIP)
    for wrong in (LeaderResignParams("client-2", NOW), LeaderResignParams("client-1", PAST_TIME)):
        assert handle.run(lambda ex, p=wrong: ex.leader_resign(p)) is False
    assert listening.received(0) == []

    assert handle.run(lambda ex: ex.leader_resign(LeaderResignParams("client-1", NOW))) is True
    ((channel, payload),) = listening.received(1)
    assert channel == f"{handle.schema}.{TOPIC_LEADERSHIP}"
    assert json.loads(payload) == notification_payloads["resigned"]
    assert handle.run(lambda ex: ex.leader_get_elected_leader()) is None


# -- queues --------------------------------------------------------------------------------


def test_queue_create_or_set_updated_at(handle: DriverHandle) -> None:
    params = QueueCreateOrSetUpdatedAtParams("q", metadata=b'{"a":1}', now=NOW)
    created = handle.run(lambda ex: ex.queue_create_or_set_updated_at(params))
    assert (created.name, created.created_at, created.updated_at) == ("q", NOW, NOW)
    assert created.paused_at is None and created.metadata == {"a": 1}

    later = NOW + timedelta(minutes=1)
    again = QueueCreateOrSetUpdatedAtParams("q", metadata=b'{"b":2}', now=later)
    touched = handle.run(lambda ex: ex.queue_create_or_set_updated_at(again))
    assert touched.created_at == NOW and touched.updated_at == later
    assert touched.metadata == {"a": 1}  # only updated_at changes on conflict

    explicit = QueueCreateOrSetUpdatedAtParams(
        "paused", paused_at=PAST_TIME, updated_at=PAST_TIME, now=NOW
    )
    paused = handle.run(lambda ex: ex.queue_create_or_set_updated_at(explicit))
    assert (paused.paused_at, paused.updated_at, paused.created_at) == (PAST_TIME, PAST_TIME, NOW)
    assert paused.metadata == {}

    db_time = handle.run(
        lambda ex: ex.queue_create_or_set_updated_at(QueueCreateOrSetUpdatedAtParams("t"))
    )
    assert db_time.created_at == db_time.updated_at
    assert abs(db_time.created_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_queue_get_and_list(handle: DriverHandle) -> None:
    for name in ("b", "a", "c"):
        handle.run(
            lambda ex, n=name: ex.queue_create_or_set_updated_at(
                QueueCreateOrSetUpdatedAtParams(n, now=NOW)
            )
        )
    got = handle.run(lambda ex: ex.queue_get("b"))
    assert got is not None and got.name == "b" and got.updated_at == NOW
    assert handle.run(lambda ex: ex.queue_get("zzz")) is None
    assert [q.name for q in handle.run(lambda ex: ex.queue_list())] == ["a", "b", "c"]
    assert [q.name for q in handle.run(lambda ex: ex.queue_list(2))] == ["a", "b"]


def test_queue_pause_and_resume(handle: DriverHandle) -> None:
    for name in ("a", "b"):
        handle.run(
            lambda ex, n=name: ex.queue_create_or_set_updated_at(
                QueueCreateOrSetUpdatedAtParams(n, now=NOW)
            )
        )
    t1, t2, t3, t4 = (NOW + timedelta(minutes=m) for m in (1, 2, 3, 4))

    assert handle.run(lambda ex: ex.queue_pause("a", t1)) is True
    a = handle.run(lambda ex: ex.queue_get("a"))
    assert a is not None and (a.paused_at, a.updated_at) == (t1, t1)
    assert handle.run(lambda ex: ex.queue_pause("a", t2)) is True  # already paused: unchanged
    assert handle.run(lambda ex: ex.queue_get("a")) == a
    b = handle.run(lambda ex: ex.queue_get("b"))
    assert b is not None and b.paused_at is None

    assert handle.run(lambda ex: ex.queue_resume("a", t3)) is True
    a = handle.run(lambda ex: ex.queue_get("a"))
    assert a is not None and (a.paused_at, a.updated_at) == (None, t3)
    assert handle.run(lambda ex: ex.queue_resume("a", t4)) is True  # not paused: unchanged
    assert handle.run(lambda ex: ex.queue_get("a")) == a

    assert handle.run(lambda ex: ex.queue_pause("missing")) is False
    assert handle.run(lambda ex: ex.queue_resume("missing")) is False

    assert handle.run(lambda ex: ex.queue_pause("*", t4)) is True
    assert all(q.paused_at == t4 for q in handle.run(lambda ex: ex.queue_list()))
    assert handle.run(lambda ex: ex.queue_resume("*")) is True
    assert all(q.paused_at is None for q in handle.run(lambda ex: ex.queue_list()))


def test_queue_pause_all_without_queues_succeeds(handle: DriverHandle) -> None:
    assert handle.run(lambda ex: ex.queue_pause("*")) is True
    assert handle.run(lambda ex: ex.queue_resume("*")) is True


def test_queue_update(handle: DriverHandle) -> None:
    params = QueueCreateOrSetUpdatedAtParams("q", metadata=b'{"a":1}', now=NOW)
    handle.run(lambda ex: ex.queue_create_or_set_updated_at(params))
    replaced = handle.run(lambda ex: ex.queue_update(QueueUpdateParams("q", metadata=b'{"b":2}')))
    assert replaced is not None and replaced.metadata == {"b": 2}  # replaced, not merged
    assert replaced.updated_at > NOW
    kept = handle.run(lambda ex: ex.queue_update(QueueUpdateParams("q")))
    assert kept is not None and kept.metadata == {"b": 2}
    assert handle.run(lambda ex: ex.queue_update(QueueUpdateParams("zzz"))) is None


def test_queue_delete_expired(handle: DriverHandle) -> None:
    for i, name in enumerate(("d", "a", "c", "b")):
        params = QueueCreateOrSetUpdatedAtParams(name, now=NOW + timedelta(minutes=i))
        handle.run(lambda ex, p=params: ex.queue_create_or_set_updated_at(p))
    horizon = NOW + timedelta(minutes=3)  # d, a and c are older
    assert handle.run(lambda ex: ex.queue_delete_expired(horizon, 2)) == ["a", "c"]
    assert handle.run(lambda ex: ex.queue_delete_expired(horizon, 10)) == ["d"]
    assert [q.name for q in handle.run(lambda ex: ex.queue_list())] == ["b"]
