"""``deepverify provenance``: a video's Content Credentials and container hints, nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from deepverify.cli.common import console, fail, setup_logging, user_errors
from deepverify.cli.options import JsonOption, VerboseOption

if TYPE_CHECKING:
    from deepverify.provenance import Provenance

_STATUS_STYLE = {
    "valid": "green",
    "untrusted_signer": "yellow",
    "content_changed": "red",
    "signature_invalid": "red",
    "unreadable": "yellow",
    "absent": "dim",
}


def print_provenance(provenance: Provenance) -> None:
    """Print the section: the plain-language summary, the manifest's details, the hints."""
    credentials = provenance.content_credentials
    style = _STATUS_STYLE[credentials.status]
    console.print(f"[{style}]{credentials.status.replace('_', ' ')}[/] {provenance.summary}",
                  highlight=False)  # fmt: skip
    if credentials.status not in ("absent", "unreadable"):
        table = Table("Content Credentials", "", show_header=False)
        if credentials.signer:
            signer = credentials.signer
            table.add_row("signer", f"{signer.subject or '—'} (issued by {signer.issuer or '—'})")
        for label, value in (
            ("validation", credentials.validation_state),
            ("made with", credentials.claim_generator),
            ("signed at", credentials.signed_at),
            ("title", credentials.title),
        ):
            if value:
                table.add_row(label, value)
        for action in credentials.actions:
            extra = [action.digital_source_type, action.software_agent]
            table.add_row("action", " · ".join([action.action, *[x for x in extra if x]]))
        for item in credentials.ingredients:
            table.add_row("ingredient", f"{item.title or '—'} ({item.relationship or '?'})")
        for code in credentials.validation_codes:
            table.add_row(code.kind, code.code)
        console.print(table)
    container = provenance.container
    if container.status == "unreadable":
        console.print(f"[dim]container metadata unreadable: {container.reason}[/]")
    elif container.hints or container.location:
        table = Table("container hint", "value", "where", title="Container metadata (hints)")
        for tag in container.hints:
            table.add_row(tag.label, tag.value, tag.source)
        for tag in container.location:
            table.add_row("Location", tag.value, tag.source)
        console.print(table)


def provenance(
    path: Annotated[Path, typer.Argument(help="A video file.")],
    as_json: JsonOption = False,
    trust_anchors: Annotated[
        Path | None,
        typer.Option(
            help="PEM root certificates whose signers count as trusted "
            "(default: $DEEPVERIFY_C2PA_TRUST_ANCHORS, else none)."
        ),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Show where a video says it came from: Content Credentials (C2PA) and container tags."""
    setup_logging(verbose)
    with user_errors():
        from deepverify.provenance import read_provenance

        if not path.is_file():
            fail(f"{path} is not a file")
        anchors = None
        if trust_anchors is not None:
            try:
                anchors = trust_anchors.read_text(encoding="ascii")
            except (OSError, UnicodeError) as exc:
                fail(f"cannot read the trust anchors {trust_anchors}: {exc}")
        section = read_provenance(path, trust_anchors=anchors)
        if as_json:
            console.print_json(section.model_dump_json())
        else:
            print_provenance(section)
