"""``/api/health`` (liveness) and ``/api/ready`` (database, object store, worker and model)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool

from deepverify.service.api.deps import DatabaseDep, DispatcherDep, SettingsDep
from deepverify.service.api.schemas import Health, Readiness
from deepverify.service.core.db import ping
from deepverify.service.core.objects import StorageUnavailableError, open_store
from deepverify.service.core.settings import Settings

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
    response: Response,
    database_engine: DatabaseDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
) -> Readiness:
    """Ready to analyse: database and object store answer, a worker has its model (else 503).

    ``detail`` says what is missing: the store's reason names a wrong credential, a missing
    bucket or an unreachable endpoint.
    """
    database = await run_in_threadpool(ping, database_engine)
    store_problem = await run_in_threadpool(_store_problem, settings)
    workers = await run_in_threadpool(dispatcher.status)
    detail = workers.detail
    if store_problem is not None:
        detail = store_problem
    if not database:
        detail = "database unreachable"
    result = Readiness(
        ready=database and store_problem is None and workers.worker and workers.model,
        database=database,
        storage=store_problem is None,
        worker=workers.worker,
        model=workers.model,
        mode=dispatcher.mode,
        detail=detail,
    )
    if not result.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return result


def _store_problem(settings: Settings) -> str | None:
    """Why the object store cannot be used now, or None when it can."""
    try:
        open_store(settings).check()
    except StorageUnavailableError as exc:
        return str(exc)
    return None
