"""The insert API of both clients on every variant: results, transactions, options, args types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from client_harness import (
    AnyArgs,
    ClientUnderTest,
    FieldKindArgs,
    LegacyArgs,
    OptsArgs,
    PydanticArgs,
    RawArgs,
    Rollback,
    SortArgs,
    SortWorker,
    TxKind,
)

import river_core as river
from river_core.insert_params import build_insert_params_many

pytestmark = pytest.mark.asyncio(loop_scope="session")

UNIQUE = river.UniqueOpts(by_args=True)


async def test_readme_example(rc: ClientUnderTest) -> None:
    res = await rc.api.insert(
        SortArgs(strings=["b", "a"]), insert_opts=river.InsertOpts(queue="q", priority=2)
    )
    assert isinstance(res.job.id, int)
    assert res.job.state is river.JobState.AVAILABLE
    assert res.unique_skipped_as_duplicated is False
    assert (res.job.kind, res.job.queue, res.job.priority) == ("sort", "q", 2)
    assert res.job.args == {"strings": ["b", "a"]}
    assert (res.job.attempt, res.job.max_attempts) == (0, 25)
    assert rc.count_jobs() == 1


@pytest.mark.parametrize("kind", ["session", "connection"])
async def test_insert_tx_joins_and_never_commits(rc: ClientUnderTest, kind: TxKind) -> None:
    async with rc.tx(kind) as tx:
        res = await rc.api.insert_tx(tx, SortArgs(strings=["c"]))
        many = await rc.api.insert_many_tx(tx, [SortArgs(["d"]), SortArgs(["e"])])
        fast = await rc.api.insert_many_fast_tx(tx, [SortArgs(["f"])] * 3)
        # Visible inside the caller's transaction, invisible (uncommitted) outside it.
        assert await rc.scalar_in(tx, "SELECT count(*) FROM {schema}.river_job") == 6
        assert rc.count_jobs() == 0
    assert (len(many), fast) == (2, 3)
    assert rc.count_jobs() == 6
    assert rc.scalar("SELECT kind FROM {schema}.river_job WHERE id = :id", id=res.job.id) == "sort"


@pytest.mark.parametrize("kind", ["session", "connection"])
async def test_insert_tx_rolled_back_leaves_nothing(rc: ClientUnderTest, kind: TxKind) -> None:
    with pytest.raises(Rollback):
        async with rc.tx(kind) as tx:
            await rc.api.insert_tx(tx, SortArgs(strings=["c"]))
            await rc.api.insert_many_tx(tx, [SortArgs(["d"])])
            await rc.api.insert_many_fast_tx(tx, [SortArgs(["e"])] * 2)
            assert await rc.scalar_in(tx, "SELECT count(*) FROM {schema}.river_job") == 4
            raise Rollback
    assert rc.count_jobs() == 0


async def test_insert_tx_leaves_the_transaction_open(rc: ClientUnderTest) -> None:
    """The caller's transaction goes on after an insert: later statements share it."""
    async with rc.tx("session") as tx:
        await rc.api.insert_tx(tx, SortArgs(["a"]))
        assert tx.in_transaction()
        assert await rc.scalar_in(tx, "SELECT count(*) FROM {schema}.river_job") == 1


async def test_insert_many_returns_rows_in_order(rc: ClientUnderTest) -> None:
    items = [
        SortArgs([str(i)])
        if i % 2
        else river.InsertManyParams(SortArgs([str(i)]), river.InsertOpts(queue=f"q{i}"))
        for i in range(7)
    ]
    results = await rc.api.insert_many(items)
    assert [r.job.args["strings"] for r in results] == [[str(i)] for i in range(7)]
    assert [r.job.queue for r in results] == ["default" if i % 2 else f"q{i}" for i in range(7)]
    ids = [r.job.id for r in results]
    assert ids == sorted(ids)
    assert not any(r.unique_skipped_as_duplicated for r in results)


async def test_insert_many_fast_returns_the_count(rc: ClientUnderTest) -> None:
    count = await rc.api.insert_many_fast(
        [SortArgs([str(i)]) for i in range(250)]
        + [river.InsertManyParams(SortArgs(["x"]), river.InsertOpts(queue="other", priority=4))]
    )
    assert count == 251
    assert rc.count_jobs("queue = 'default' AND priority = 1 AND state = 'available'") == 250
    assert rc.count_jobs("queue = 'other' AND priority = 4") == 1


async def test_insert_many_needs_a_job(rc: ClientUnderTest) -> None:
    for method in ("insert_many", "insert_many_fast"):
        with pytest.raises(river.ValidationError):
            await getattr(rc.api, method)([])


async def test_option_precedence(rc: ClientUnderTest) -> None:
    """Insert time > args.insert_opts() > client defaults > River defaults, field by field."""
    client = rc.make_client(river.Config(max_attempts=7))
    args_opts = river.InsertOpts(queue="args_q", priority=3, tags=["from_args"])
    api = type(rc.api)(client)

    river_defaults = (await rc.api.insert(OptsArgs(river.InsertOpts()))).job
    assert (river_defaults.queue, river_defaults.priority, river_defaults.max_attempts) == (
        "default",
        1,
        25,
    )
    assert river_defaults.tags == []

    from_args = (await api.insert(OptsArgs(args_opts))).job
    assert (from_args.queue, from_args.priority, from_args.max_attempts) == ("args_q", 3, 7)
    assert from_args.tags == ["from_args"]

    insert_time = river.InsertOpts(priority=4, max_attempts=2, tags=[])
    mixed = (await api.insert(OptsArgs(args_opts), insert_opts=insert_time)).job
    assert (mixed.queue, mixed.priority, mixed.max_attempts) == ("args_q", 4, 2)
    assert mixed.tags == []  # an explicit empty list is set: it wins, never merged


async def test_future_scheduled_at_is_scheduled(rc: ClientUnderTest) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    past = datetime.now(UTC) - timedelta(hours=1)
    scheduled = (await rc.api.insert(SortArgs(["a"]), river.InsertOpts(scheduled_at=later))).job
    assert scheduled.state is river.JobState.SCHEDULED
    assert scheduled.scheduled_at == later
    due = (await rc.api.insert(SortArgs(["a"]), river.InsertOpts(scheduled_at=past))).job
    assert due.state is river.JobState.AVAILABLE
    assert due.scheduled_at == past
    count = await rc.api.insert_many_fast(
        [river.InsertManyParams(SortArgs(["b"]), river.InsertOpts(scheduled_at=later))]
    )
    assert count == 1
    assert rc.count_jobs("state = 'scheduled'") == 2


async def test_pending(rc: ClientUnderTest) -> None:
    job = (await rc.api.insert(SortArgs(["a"]), river.InsertOpts(pending=True))).job
    assert job.state is river.JobState.PENDING
    await rc.api.insert_many_fast(
        [river.InsertManyParams(SortArgs(["b"]), river.InsertOpts(pending=True))]
    )
    assert rc.count_jobs("state = 'pending'") == 2


async def test_tags_and_metadata_are_stored(rc: ClientUnderTest) -> None:
    opts = river.InsertOpts(tags=["alpha", "beta-2"], metadata={"trace": {"id": "abc"}, "n": 1})
    job = (await rc.api.insert(SortArgs(["a"]), opts)).job
    assert job.tags == ["alpha", "beta-2"]
    assert job.metadata == {"trace": {"id": "abc"}, "n": 1}
    await rc.api.insert_many_fast([river.InsertManyParams(SortArgs(["b"]), opts)])
    assert (
        rc.count_jobs(
            """tags = '{alpha,beta-2}' AND metadata = '{"trace": {"id": "abc"}, "n": 1}'"""
        )
        == 2
    )
    text_metadata = river.InsertOpts(metadata='{"from": "text"}')
    assert (await rc.api.insert(SortArgs(["c"]), text_metadata)).job.metadata == {"from": "text"}


async def test_dataclass_and_pydantic_args_without_to_json(rc: ClientUnderTest) -> None:
    sort = (await rc.api.insert(SortArgs(["b", "a"]))).job
    assert (sort.kind, sort.args) == ("sort", {"strings": ["b", "a"]})
    field_kind = (await rc.api.insert(FieldKindArgs(n=3))).job
    assert (field_kind.kind, field_kind.args) == ("field_kind", {"n": 3})
    model = PydanticArgs(user_id=7, emailAddress="a@example.com")
    pyd = (await rc.api.insert(model)).job
    assert (pyd.kind, pyd.args) == (
        "pydantic_args",
        {"user_id": 7, "emailAddress": "a@example.com"},
    )


async def test_legacy_to_json_args_work_unchanged(rc: ClientUnderTest) -> None:
    """riverqueue-python 0.7 code: a class with `kind` and `to_json()`, River's InsertOpts."""
    res = await rc.api.insert(
        LegacyArgs("hello <world> & co"),
        insert_opts=river.InsertOpts(max_attempts=5, priority=2, queue="legacy", tags=["old"]),
    )
    assert res.job.kind == "legacy"
    assert res.job.args == {"message": "hello <world> & co"}
    assert (res.job.max_attempts, res.job.priority, res.job.queue, res.job.tags) == (
        5,
        2,
        "legacy",
        ["old"],
    )
    results = await rc.api.insert_many([LegacyArgs("a"), LegacyArgs("b")])
    assert [r.job.args["message"] for r in results] == ["a", "b"]


async def test_args_are_stored_as_go_encodes_them(rc: ClientUnderTest) -> None:
    """The stored jsonb is what Go's encoding/json bytes mean (floats, big ints, escapes)."""
    text = '{"big": 123456789012345678901234567890, "f": 1.50, "html": "<&>", "z": -0}'
    job = (await rc.api.insert(RawArgs(text))).job
    assert (
        rc.scalar("SELECT args::text FROM {schema}.river_job WHERE id = :id", id=job.id)
        == '{"f": 1.5, "z": 0, "big": 123456789012345678901234567890, "html": "<&>"}'
    )
    when = datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)
    dated = (await rc.api.insert(AnyArgs(value=when))).job
    assert dated.args == {"value": "2026-01-02T03:04:05.6789Z"}


class QueueFromArgs:
    """Args whose `insert_opts()` returns a new InsertOpts each call (no id is shared)."""

    kind = "queue_from_args"

    def __init__(self, n: int) -> None:
        self.n = n

    def to_json(self) -> str:
        return f'{{"n": {self.n}}}'

    def insert_opts(self) -> river.InsertOpts:
        return river.InsertOpts(queue=f"q{self.n % 3}", priority=self.n % 4 + 1)


async def test_insert_many_resolves_each_job_with_its_own_options(rc: ClientUnderTest) -> None:
    """Jobs sharing option objects share their resolution; nothing leaks between jobs."""
    shared = river.InsertOpts(queue="shared", tags=["tag1"])
    later = datetime.now(UTC) + timedelta(hours=1)
    items: list[object] = []
    for i in range(30):
        items += [
            river.InsertManyParams(SortArgs([str(i)]), shared),
            QueueFromArgs(i),
            river.InsertManyParams(AnyArgs(value=i), river.InsertOpts(scheduled_at=later)),
            river.InsertManyParams(SortArgs([str(i)]), river.InsertOpts(unique_opts=UNIQUE)),
        ]
    for method in ("insert_many", "insert_many_fast"):
        await rc.api.job_delete_many(river.JobListParams(max=1000))
        await getattr(rc.api, method)(items)
        rows = await rc.api.job_list(river.JobListParams(max=1000))
        assert len(rows) == 120
        by_kind: dict[str, list[river.JobRow]] = {}
        for row in rows:
            by_kind.setdefault(row.kind, []).append(row)
        sort_rows = [r for r in by_kind["sort"] if r.queue == "shared"]
        assert [r.args["strings"] for r in sort_rows] == [[str(i)] for i in range(30)]
        assert all(r.tags == ["tag1"] and r.unique_key is None for r in sort_rows)
        assert [(r.args["n"], r.queue, r.priority) for r in by_kind["queue_from_args"]] == [
            (i, f"q{i % 3}", i % 4 + 1) for i in range(30)
        ]
        assert [r.args["value"] for r in by_kind["any"]] == list(range(30))
        assert all(r.state is river.JobState.SCHEDULED for r in by_kind["any"])
        unique_rows = [r for r in by_kind["sort"] if r.queue == "default"]
        assert len({r.unique_key for r in unique_rows}) == 30


async def test_unknown_kind_checked_for_every_job(rc: ClientUnderTest) -> None:
    workers = river.Workers()
    workers.add(SortWorker())
    api = type(rc.api)(rc.make_client(river.Config(workers=workers)))
    with pytest.raises(river.UnknownJobKindError):
        await api.insert_many([SortArgs(["a"]), SortArgs(["b"]), AnyArgs(kind="other")])
    assert await api.insert_many_fast([SortArgs(["a"]), SortArgs(["b"])]) == 2


async def test_identical_jobs_share_one_params_object() -> None:
    """Params are immutable: a batch of identical jobs resolves and stores one object."""
    config = river.Config()
    shared = river.InsertOpts(queue="q")
    items = [(SortArgs(["same"]), shared), (SortArgs(["same"]), shared), (SortArgs(["x"]), shared)]
    first, second, third = build_insert_params_many(items, config)
    assert first is second
    assert third is not first and third.encoded_args == b'{"strings":["x"]}'
    assert (third.queue, third.kind, third.priority) == ("q", "sort", 1)


async def test_options_made_on_the_fly_are_never_confused() -> None:
    """Options objects freed while iterating could reuse an id: each job keeps its own."""
    jobs = ((SortArgs([str(i)]), river.InsertOpts(queue=f"q{i}")) for i in range(200))
    params = build_insert_params_many(jobs, river.Config())
    assert [p.queue for p in params] == [f"q{i}" for i in range(200)]
