"""The web UI: a static Next.js export served at ``/``, with SPA fallback for client routes.

Resolution for ``/some/route``: the file itself, ``some/route.html``, ``some/route/index.html``,
then ``index.html`` (the client router takes over). ``/api/...`` is never shadowed: an unknown
API path answers a JSON 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

from deepverify.service.api.deps import SettingsDep
from deepverify.service.api.headers import page_policy

router = APIRouter(include_in_schema=False)


def _inside(root: Path, candidate: Path) -> bool:
    try:
        candidate.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def resolve_page(root: Path, path: str) -> Path | None:
    """The file to serve for ``path`` under ``root`` (never outside it), or None."""
    root = root.resolve()
    clean = path.strip("/")
    candidates = [root / clean] if clean else []
    candidates += [root / f"{clean}.html", root / clean / "index.html", root / "index.html"]
    for candidate in candidates:
        if candidate.is_file() and _inside(root, candidate):
            return candidate
    return None


@router.get("/{path:path}")
def web_page(path: str, settings: SettingsDep) -> FileResponse:
    """A file of the web UI, or its ``index.html`` for client-side routes."""
    if path == "api" or path.startswith("api/"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such API endpoint")
    root: Path = settings.web_dir
    page = resolve_page(root, path) if root.is_dir() else None
    if page is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "the web UI is not built; the API is under /api"
        )
    policy = page_policy(settings, page)
    return FileResponse(page, headers={"Content-Security-Policy": policy})
