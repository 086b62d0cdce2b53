"""``/api/health`` (liveness) and ``/api/ready`` (database, worker and model)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool

from deepverify.service.api.deps import DatabaseDep, DispatcherDep
from deepverify.service.api.schemas import Health, Readiness
from deepverify.service.core.db import ping

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, operation_id="health")
def health() -> Health:
    """The process is up and serving requests."""
    return Health()


@router.get(
    "/ready",
    response_model=Readiness,
    operation_id="ready",
    responses={503: {"model": Readiness, "description": "not ready yet"}},
)
async def ready(
    response: Response, database_engine: DatabaseDep, dispatcher: DispatcherDep
) -> Readiness:
    """Ready to analyse: the database answers, a worker runs and its model is loaded (else 503)."""
    database = await run_in_threadpool(ping, database_engine)
    workers = await run_in_threadpool(dispatcher.status)
    result = Readiness(
        ready=database and workers.worker and workers.model,
        database=database,
        worker=workers.worker,
        model=workers.model,
        mode=dispatcher.mode,
        detail=workers.detail if database else "database unreachable",
    )
    if not result.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return result
