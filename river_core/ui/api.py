"""River UI's JSON API: the same endpoints, parameters, field names and error messages."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from river_core import admin
from river_core.driver import Executor, JobKindListParams, QueueNameListParams
from river_core.errors import DatabaseError, JobNotFoundError, JobRunningError, QueueNotFoundError
from river_core.ui import serialize
from river_core.ui.context import JOB_ACTIONS, UiContext
from river_core.ui.counts import COUNT_LIMIT, QueueSummary, queue_summaries, summarize
from river_core.ui.listing import BadQuery, JobFilters, parse_limit
from river_core.ui.security import check_api_mutation

_MAX_IDS = 1000
_OK = {"status": "ok"}


class ApiError(Exception):
    """An error answered as River UI does: `{"message": ...}` with a status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


class Api:
    """The `/api` routes of one dashboard."""

    def __init__(self, ui: UiContext) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/autocomplete", self.autocomplete),
            Route("/api/features", self.features),
            Route("/api/health-checks/{name}", self.health_check),
            Route("/api/jobs", self.job_list),
            Route("/api/jobs/{action:str}", self.job_action, methods=["POST"]),
            Route("/api/jobs/{job_id}", self.job_get),
            Route("/api/queues", self.queue_list),
            Route("/api/queues/{name}", self.queue_get),
            Route("/api/queues/{name}/{action:str}", self.queue_action, methods=["PUT"]),
            Route("/api/states", self.states),
        ]

    async def autocomplete(self, request: Request) -> JSONResponse:
        query = request.query_params
        facet = query.get("facet", "")
        after, match = query.get("after", ""), query.get("match", "")
        exclude = query.getlist("exclude")
        names: list[str]
        if facet == "job_kind":
            kinds = JobKindListParams(after=after, exclude=exclude, match=match)
            names = await self.ui.db.run(lambda ex: ex.job_kind_list(kinds), autocommit=True)
        elif facet == "queue_name":
            queues = QueueNameListParams(after=after, exclude=exclude, match=match)
            names = await self.ui.db.run(lambda ex: ex.queue_name_list(queues), autocommit=True)
        else:
            raise ApiError(400, f'Invalid facet "{facet}". Valid facets are: job_kind, queue_name')
        return JSONResponse({"data": names})

    async def features(self, request: Request) -> JSONResponse:
        return JSONResponse({"extensions": {}, "job_list_hide_args_by_default": self.ui.hide_args})

    async def health_check(self, request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if name == "complete":
            try:
                await self.ui.db.run(lambda ex: ex.schema_version(), autocommit=True)
            except (DatabaseError, OSError) as exc:
                raise ApiError(503, "Unable to query database. Check logs for details.") from exc
        elif name != "minimal":
            raise ApiError(
                404, f'Health check "{name}" not found. Use either `complete` or `minimal`.'
            )
        return JSONResponse(_OK)

    async def job_list(self, request: Request) -> JSONResponse:
        try:
            filters = JobFilters.from_query(request.query_params)
            params = filters.list_params(parse_limit(request.query_params.get("limit"), 20))
        except BadQuery as exc:
            raise ApiError(400, str(exc)) from None
        jobs = await self.ui.db.run(lambda ex: ex.job_list(params), autocommit=True)
        return JSONResponse({"data": [serialize.job_minimal(job) for job in jobs]})

    async def job_get(self, request: Request) -> JSONResponse:
        text = request.path_params["job_id"]
        try:
            job_id = int(text)
        except ValueError:
            raise ApiError(400, f"Couldn't convert job ID to int64: {text!r}.") from None
        try:
            job = await self.ui.db.run(lambda ex: admin.job_get(ex, job_id), autocommit=True)
        except JobNotFoundError:
            raise ApiError(404, f"Job not found: {job_id}.") from None
        return JSONResponse(serialize.job(job))

    async def job_action(self, request: Request) -> JSONResponse:
        action = JOB_ACTIONS.get(request.path_params["action"])
        if action is None:
            raise ApiError(404, "Not found.")
        check_api_mutation(request)
        ids = _job_ids(await request.body())

        def act(ex: Executor) -> None:
            for job_id in ids:
                action(ex, job_id)

        try:
            await self.ui.db.run(act)
        except JobNotFoundError as exc:
            raise ApiError(404, f"Job not found: {exc.job_id}.") from None
        except JobRunningError as exc:
            raise ApiError(
                400, f"Job {exc.job_id} is running and can't be deleted until it finishes."
            ) from None
        self.ui.changed()
        return JSONResponse(_OK)

    async def queue_list(self, request: Request) -> JSONResponse:
        try:
            limit = parse_limit(request.query_params.get("limit"), 100)
        except BadQuery as exc:
            raise ApiError(400, str(exc)) from None
        summaries = await self.ui.db.run(lambda ex: queue_summaries(ex, limit), autocommit=True)
        return JSONResponse({"data": [_queue(s) for s in summaries]})

    async def queue_get(self, request: Request) -> JSONResponse:
        name = request.path_params["name"]

        def get(ex: Executor) -> QueueSummary:
            return summarize(ex, [admin.queue_get(ex, name)], COUNT_LIMIT)[0]

        try:
            summary = await self.ui.db.run(get, autocommit=True)
        except QueueNotFoundError:
            raise ApiError(404, f"Queue not found: {name}.") from None
        return JSONResponse(_queue(summary))

    async def queue_action(self, request: Request) -> JSONResponse:
        name, verb = request.path_params["name"], request.path_params["action"]
        if verb not in ("pause", "resume"):
            raise ApiError(404, "Not found.")
        check_api_mutation(request)
        action = admin.queue_pause if verb == "pause" else admin.queue_resume
        try:
            await self.ui.db.run(lambda ex: action(ex, name))
        except QueueNotFoundError:
            raise ApiError(404, f"Queue not found: {name}.") from None
        self.ui.changed()
        return JSONResponse(_OK)

    async def states(self, request: Request) -> JSONResponse:
        return JSONResponse(serialize.states(await self.ui.state_counts.get()))


def _queue(summary: QueueSummary) -> dict[str, Any]:
    return serialize.queue(summary.queue, summary.available, summary.running)


def _job_ids(body: bytes) -> list[int]:
    """`{"ids": [...]}` with 1 to 1000 job ids, as numbers or strings (River's int64String)."""
    try:
        ids = json.loads(body)["ids"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= _MAX_IDS:
            raise ValueError
        parsed = [int(i) for i in ids if isinstance(i, int | str) and not isinstance(i, bool)]
        if len(parsed) != len(ids) or not all(0 < i < 2**63 for i in parsed):
            raise ValueError
    except (ValueError, TypeError, KeyError):
        raise ApiError(
            400, f'Expected a JSON body {{"ids": [...]}} with 1 to {_MAX_IDS} job IDs.'
        ) from None
    return parsed
