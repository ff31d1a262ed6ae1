"""The HTML pages: server-rendered with Jinja2 (autoescaped), updated in place by htmx."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from river_core import admin
from river_core.driver import Executor, JobKindListParams, QueueNameListParams
from river_core.errors import JobNotFoundError, JobRunningError, QueueNotFoundError
from river_core.job import FINAL_STATES, JobState
from river_core.ui.context import JOB_ACTIONS, UiContext
from river_core.ui.counts import COUNT_LIMIT, QUEUE_COUNT_LIMIT, QueueSummary, summarize
from river_core.ui.listing import BadQuery, JobFilters, encode_cursor, parse_limit
from river_core.ui.security import CSRF_FIELD, checked_form, csrf_token, set_csrf_cookie
from river_core.ui.templating import relative, templates, timeline

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
STATES = [
    JobState.RUNNING,
    JobState.AVAILABLE,
    JobState.SCHEDULED,
    JobState.RETRYABLE,
    JobState.PENDING,
    JobState.COMPLETED,
    JobState.CANCELLED,
    JobState.DISCARDED,
]
_DONE = {"cancel": "cancelled", "delete": "deleted", "retry": "retried"}
# Notices a redirect may ask for: fixed texts, only the counts come from the query string.
_NOTICES = {
    "cancelled": "Cancelled {n} job(s); a running job stops when its client gets the news.",
    "deleted": "Deleted {n} job(s).",
    "retried": "Retried {n} job(s).",
    "paused": "Paused the queue.",
    "resumed": "Resumed the queue.",
}
_NOTICE_KEYS = ("notice", "n", "running", "missing")
_SKIPPED = {
    "running": "{n} running job(s) left alone: cancel a running job before deleting it.",
    "missing": "{n} job(s) no longer exist.",
}


class Pages:
    """The HTML routes of one dashboard."""

    def __init__(self, ui: UiContext) -> None:
        self.ui = ui
        self.templates = templates()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.dashboard),
            Route("/jobs", self.jobs),
            Route("/jobs/actions", self.jobs_action, methods=["POST"]),
            Route("/jobs/{job_id:int}", self.job),
            Route("/jobs/{job_id:int}/{action:str}", self.job_action, methods=["POST"]),
            Route("/queues", self.queues),
            Route("/queues/{name}", self.queue),
            Route("/queues/{name}/{action:str}", self.queue_action, methods=["POST"]),
            Route("/autocomplete/{facet:str}", self.autocomplete),
        ]

    # -- rendering ---------------------------------------------------------------------------
    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        base = request.scope.get("root_path", "")
        now = datetime.now(UTC)
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "base": base,
                "csrf_field": CSRF_FIELD,
                "csrf_token": csrf_token(request),
                "here": _here(request),
                "now": now,
                "notices": _notices(request),
                "read_only": self.ui.read_only,
                "refresh_ms": int(self.ui.refresh_interval * 1000),
                "relative": lambda at: relative(at, now),
                "states": STATES,
                **context,
            },
            status_code=status,
        )
        set_csrf_cookie(request, response, base)
        return response

    def error(self, request: Request, status: int, message: str) -> Response:
        return self.render(request, "error.html", status, title="Error", message=message)

    # -- pages -------------------------------------------------------------------------------
    async def dashboard(self, request: Request) -> Response:
        counts = await self.ui.state_counts.get()
        queues = await self.ui.queues.get()
        return self.render(
            request,
            "dashboard.html",
            title="Overview",
            counts=counts,
            queues=queues,
            limit=COUNT_LIMIT,
        )

    async def jobs(self, request: Request) -> Response:
        query = request.query_params
        try:
            filters = JobFilters.from_query(query)
            limit = parse_limit(query.get("limit"), PAGE_SIZE)
            if limit > MAX_PAGE_SIZE:
                raise BadQuery(f"limit: at most {MAX_PAGE_SIZE} on this page")
            params = filters.list_params(limit + 1, query.get("after") or None)
        except BadQuery as exc:
            return self.error(request, 400, str(exc))
        jobs = await self.ui.db.run(lambda ex: ex.job_list(params), autocommit=True)
        more = len(jobs) > limit
        jobs = jobs[:limit]
        show_args = query.get("args", "hide" if self.ui.hide_args else "show") == "show"
        keep = {"args": query["args"]} if "args" in query else {}
        if limit != PAGE_SIZE:
            keep["limit"] = str(limit)
        return self.render(
            request,
            "jobs.html",
            title=f"Jobs: {filters.state.value}",
            counts=await self.ui.state_counts.get(),
            filters=filters,
            jobs=jobs,
            show_args=show_args,
            keep=keep,
            deep=bool(query.get("after")),
            next_query=urlencode(
                filters.query(after=encode_cursor(filters.state, jobs[-1]), **keep)
            )
            if more
            else None,
            first_query=urlencode(filters.query(**keep)),
            args_query=urlencode(filters.query(args="hide" if show_args else "show")),
            state_query=lambda state: urlencode(filters.query(state=state.value, **keep)),
        )

    async def job(self, request: Request) -> Response:
        job_id: int = request.path_params["job_id"]
        try:
            job = await self.ui.db.run(lambda ex: admin.job_get(ex, job_id), autocommit=True)
        except JobNotFoundError:
            return self.error(request, 404, f"Job {job_id} does not exist (or no longer does).")
        now = datetime.now(UTC)
        return self.render(
            request,
            "job.html",
            title=f"Job {job.id}: {job.kind}",
            job=job,
            steps=timeline(job, now),
            can_retry=job.state is not JobState.RUNNING,
            can_cancel=job.state not in FINAL_STATES,
            can_delete=job.state is not JobState.RUNNING,
        )

    async def queues(self, request: Request) -> Response:
        return self.render(
            request,
            "queues.html",
            title="Queues",
            queues=await self.ui.queues.get(),
            limit=QUEUE_COUNT_LIMIT,
        )

    async def queue(self, request: Request) -> Response:
        name = request.path_params["name"]

        def get(ex: Executor) -> QueueSummary:
            return summarize(ex, [admin.queue_get(ex, name)], COUNT_LIMIT)[0]

        try:
            summary = await self.ui.db.run(get, autocommit=True)
        except QueueNotFoundError:
            return self.error(request, 404, f"Queue {name!r} does not exist.")
        return self.render(request, "queue.html", title=f"Queue {name}", summary=summary)

    async def autocomplete(self, request: Request) -> Response:
        """`<option>`s for the kind or queue filter, matching the last comma-separated part."""
        facet = request.path_params["facet"]
        if facet not in ("kinds", "queues"):
            return self.error(request, 404, "No such list.")
        typed = request.query_params.get(facet, "")
        done, _, match = typed.rpartition(",")
        exclude = [part.strip() for part in done.split(",") if part.strip()]
        if facet == "kinds":
            kinds = JobKindListParams(max=20, exclude=exclude, match=match.strip())
            names = await self.ui.db.run(lambda ex: ex.job_kind_list(kinds), autocommit=True)
        else:
            queues = QueueNameListParams(max=20, exclude=exclude, match=match.strip())
            names = await self.ui.db.run(lambda ex: ex.queue_name_list(queues), autocommit=True)
        prefix = ",".join(exclude) + "," if exclude else ""
        return self.templates.TemplateResponse(
            request, "_options.html", {"options": [prefix + name for name in names]}
        )

    # -- actions -------------------------------------------------------------------------------
    async def jobs_action(self, request: Request) -> Response:
        form = await checked_form(request)
        verb = str(form.get("action", ""))
        action = JOB_ACTIONS.get(verb)
        back = _safe_next(request, form.get("next"))
        try:
            ids = [int(str(value)) for value in form.getlist("ids")]
        except ValueError:
            return self.error(request, 400, "Job ids must be integers.")
        if action is None or not ids:
            return self.error(request, 400, "Choose an action and at least one job.")

        def act(ex: Executor) -> dict[str, int]:
            done = {"n": 0, "running": 0, "missing": 0}
            for job_id in ids:
                try:
                    action(ex, job_id)
                    done["n"] += 1
                except JobRunningError:
                    done["running"] += 1
                except JobNotFoundError:
                    done["missing"] += 1
            return done

        done = await self.ui.db.run(act)
        self.ui.changed()
        return _redirect(back, notice=_DONE[verb], **{k: str(v) for k, v in done.items() if v})

    async def job_action(self, request: Request) -> Response:
        form = await checked_form(request)
        job_id: int = request.path_params["job_id"]
        verb = request.path_params["action"]
        action = JOB_ACTIONS.get(verb)
        if action is None:
            return self.error(request, 404, "No such action.")
        base = request.scope.get("root_path", "")
        page = f"{base}/jobs/{job_id}"
        try:
            job = await self.ui.db.run(lambda ex: action(ex, job_id))
        except JobNotFoundError:
            return self.error(request, 404, f"Job {job_id} does not exist (or no longer does).")
        except JobRunningError:
            return _redirect(page, notice=_DONE[verb], running="1")
        self.ui.changed()
        if verb == "delete":
            back = _safe_next(request, form.get("next"), f"{base}/jobs?state={job.state.value}")
            return _redirect(back, notice="deleted", n="1")
        return _redirect(page, notice=_DONE[verb], n="1")

    async def queue_action(self, request: Request) -> Response:
        form = await checked_form(request)
        name, verb = request.path_params["name"], request.path_params["action"]
        if verb not in ("pause", "resume"):
            return self.error(request, 404, "No such action.")
        action = admin.queue_pause if verb == "pause" else admin.queue_resume
        try:
            await self.ui.db.run(lambda ex: action(ex, name))
        except QueueNotFoundError:
            return self.error(request, 404, f"Queue {name!r} does not exist.")
        self.ui.changed()
        page = f"{request.scope.get('root_path', '')}/queues/{quote(name, safe='')}"
        return _redirect(_safe_next(request, form.get("next"), page), notice=f"{verb}d")


def _here(request: Request) -> str:
    """This request's path and query, for links back to it."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _safe_next(request: Request, value: Any, default: str | None = None) -> str:
    """A form's `next` if it is a path within this dashboard (never another site)."""
    base = request.scope.get("root_path", "")
    fallback = default or f"{base}/jobs"
    if not isinstance(value, str):
        return fallback
    parts = urlsplit(value)
    inside = value.startswith(f"{base}/") and not value.startswith("//") and "\\" not in value
    return value if inside and not parts.scheme and not parts.netloc else fallback


def _redirect(url: str, **notice: str) -> Response:
    """303 to `url` with these notice parameters (instead of any it had)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in _NOTICE_KEYS]
    target = urlunsplit(("", "", parts.path, urlencode(query + list(notice.items())), ""))
    return RedirectResponse(target, status_code=303)


def _notices(request: Request) -> list[str]:
    """The fixed texts of the notices this page was redirected with."""
    query = request.query_params
    texts = []
    notice = _NOTICES.get(query.get("notice", ""))
    if notice is not None:
        texts.append(notice.format(n=_count(query.get("n"))))
    for key, text in _SKIPPED.items():
        if count := _count(query.get(key)):
            texts.append(text.format(n=count))
    return texts


def _count(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 7 else 0
