"""Smoke test of the composed stack (``make stack-test``): upload -> verdict end to end.

Against a stack started by ``deploy/stack.sh up``: checks that the API and worker containers
share no volume, signs in two users (registered on first use), uploads one clip as the first,
follows the job to its end, fetches the report page and one of its images, checks that the
second user gets 404 for the video, deletes it and checks that the object store holds as many
objects as before the upload. Prints the figures as JSON; exits 1 with the reason on any failure.

    .venv/bin/python deploy/stack_test.py --url http://127.0.0.1:8080 --project deepverify
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

APP_SERVICES = ("api", "worker-1", "worker-2")
DEFAULT_VIDEO = Path(os.environ.get("DEEPVERIFY_SHARED_DATA", "../shared/data")) / (
    "eval/fake/ffpp_df_519_515.mp4"
)


class StackError(RuntimeError):
    """The stack did not do what the test expects (one-line reason)."""


def mounts(project: str, service: str) -> set[str]:
    """The host paths and volume names mounted into one service's container."""
    name = f"{project}_{service}_1"
    out = subprocess.run(
        ["podman", "inspect", "--format", "{{json .Mounts}}", name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {m.get("Name") or m["Source"] for m in json.loads(out) or []}


def check_no_shared_volume(project: str) -> dict[str, list[str]]:
    """Raise unless no two of the API and worker containers mount the same volume or path."""
    seen = {service: mounts(project, service) for service in APP_SERVICES}
    for i, first in enumerate(APP_SERVICES):
        for second in APP_SERVICES[i + 1 :]:
            if shared := seen[first] & seen[second]:
                raise StackError(f"{first} and {second} share {sorted(shared)}")
    return {service: sorted(found) for service, found in seen.items()}


def stored_objects(project: str) -> int:
    """How many objects the API's store holds, asked inside the API container."""
    code = (
        "from deepverify.service.core.objects import open_store;"
        "from deepverify.service.core.settings import load_settings;"
        "print(len(open_store(load_settings()).keys()))"
    )
    out = subprocess.run(
        ["podman", "exec", f"{project}_api_1", "python", "-c", code],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.strip().splitlines()[-1])


def sign_in(client: httpx.Client, accounts: Path, name: str) -> dict[str, str]:
    """Sign in as the test user ``name``, registering it first when needed.

    The accounts live in ``accounts`` (JSON, mode 0600), so that reruns against one stack sign in
    instead of registering again (new accounts are limited per client address).
    """
    known = json.loads(accounts.read_text()) if accounts.is_file() else {}
    for attempt in range(2):
        if name in known:
            form = {"username": known[name]["email"], "password": known[name]["password"]}
            login = client.post("/api/auth/login", data=form)
            if login.status_code == 200:
                return {"Authorization": f"Bearer {login.json()['access_token']}"}
            if login.status_code != 401 or attempt:
                login.raise_for_status()
        email = f"{name}-{secrets.token_hex(4)}@example.com"
        known[name] = {"email": email, "password": secrets.token_urlsafe(18)}
        registered = client.post("/api/auth/register", json=known[name])
        registered.raise_for_status()
        accounts.parent.mkdir(parents=True, exist_ok=True)
        accounts.touch(mode=0o600)
        accounts.write_text(json.dumps(known))
    raise StackError(f"could not sign in as {name}")


def follow(client: httpx.Client, headers: dict[str, str], video_id: str, timeout: float) -> Any:
    """Poll the video until its job is done or failed; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/videos/{video_id}", headers=headers).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.5)
    raise StackError(f"video {video_id} did not finish within {timeout:.0f} s")


def run(url: str, project: str, video: Path, timeout: float, accounts: Path) -> dict[str, Any]:
    """The smoke test; returns its figures."""
    figures: dict[str, Any] = {"mounts": check_no_shared_volume(project)}
    with httpx.Client(base_url=url, timeout=60) as client:
        ready = client.get("/api/ready").json()
        if not ready.get("ready") or ready.get("mode") != "celery":
            raise StackError(f"/api/ready: {ready}")
        owner, other = sign_in(client, accounts, "owner"), sign_in(client, accounts, "other")
        objects_before = stored_objects(project)
        started = time.perf_counter()
        with video.open("rb") as handle:
            files = {"file": (video.name, handle, "video/mp4")}
            response = client.post("/api/videos", headers=owner, files=files)
        if response.status_code != 202:
            raise StackError(f"upload answered {response.status_code}: {response.text[:200]}")
        video_id = response.json()["id"]
        figures["upload_s"] = round(time.perf_counter() - started, 2)
        body = follow(client, owner, video_id, timeout)
        figures["upload_to_verdict_s"] = round(time.perf_counter() - started, 2)
        if body["status"] != "done":
            raise StackError(f"job failed: {body['error']}")
        figures["verdict"], figures["probability"] = body["verdict"], body["probability"]
        figures["objects_after_verdict"] = stored_objects(project)
        page = client.get(f"/api/videos/{video_id}/report.html", headers=owner)
        frames = body["report"]["frames"]
        images = [frame["image"] for frame in frames if frame.get("image")] + [
            face["heatmap"] for frame in frames for face in frame["faces"] if face.get("heatmap")
        ]
        checks = {"report_html": page.status_code}
        if images:
            base = body["image_base_url"].rstrip("/")
            checks["image"] = client.get(f"{base}/{images[-1]}", headers=owner).status_code
        checks["other_user_video"] = client.get(
            f"/api/videos/{video_id}", headers=other
        ).status_code
        checks["delete"] = client.delete(f"/api/videos/{video_id}", headers=owner).status_code
        checks["deleted_video"] = client.get(f"/api/videos/{video_id}", headers=owner).status_code
        figures["checks"] = checks
        figures["objects_before_upload"] = objects_before
        figures["objects_after_delete"] = stored_objects(project)
        if figures["objects_after_delete"] != objects_before:
            raise StackError(f"objects left after deleting the video: {figures}")
        expected = {
            "report_html": 200,
            "image": 200,
            "other_user_video": 404,
            "delete": 200,
            "deleted_video": 404,
        }
        wrong = {k: v for k, v in checks.items() if v != expected[k]}
        if wrong:
            raise StackError(f"unexpected answers {wrong} (expected {expected})")
    return figures


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the smoke test and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--project", default="deepverify")
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--accounts", type=Path, default=Path("build/stack/test-accounts.json"))
    args = parser.parse_args(argv)
    if not args.video.is_file():
        sys.stderr.write(f"stack_test: no video at {args.video} (pass --video)\n")
        return 1
    try:
        figures = run(args.url, args.project, args.video, args.timeout, args.accounts)
    except (StackError, httpx.HTTPError, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"stack_test: FAILED: {exc}\n")
        return 1
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
