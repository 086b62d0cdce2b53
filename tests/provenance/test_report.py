"""The provenance section in the report: every state, and the verdict left untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepverify.engine import Engine, load_engine
from deepverify.faces import create_detector
from deepverify.pipeline import analyze_video
from deepverify.provenance.credentials import TRUST_ANCHORS_ENV
from deepverify.report.schema import SCHEMA_VERSION, Report
from tests.provenance.signing import SIGNER_NAME, SignedClips

STATES = {
    "ai": "valid",
    "capture": "valid",
    "changed": "content_changed",
    "corrupt": "unreadable",
    "unsigned": "absent",
}


@pytest.fixture(scope="module")
def tiny_model(tiny_checkpoint: Path) -> Engine:
    return load_engine(tiny_checkpoint)


@pytest.fixture(scope="module")
def out_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def reports(
    c2pa_clips: SignedClips,
    tiny_model: Engine,
    out_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Report]:
    anchors = tmp_path_factory.mktemp("trust") / "anchors.pem"
    anchors.write_text(c2pa_clips.chain.root)
    detector = create_detector("opencv-ssd")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TRUST_ANCHORS_ENV, str(anchors))
        return {
            name: analyze_video(
                getattr(c2pa_clips, name),
                model=tiny_model,
                detector=detector,
                num_frames=4,
                explain=False,
                out_dir=out_root / name,
            )
            for name in STATES
        }


def test_every_state_is_in_the_report(reports: dict[str, Report]) -> None:
    for name, status in STATES.items():
        report = reports[name]
        assert report.schema_version == SCHEMA_VERSION == "1.2"
        assert report.provenance is not None
        assert report.provenance.content_credentials.status == status, name


def test_provenance_never_moves_the_verdict(reports: dict[str, Report]) -> None:
    # Same pictures in these files: the manifest (or its absence) must not change the score.
    # ("changed" is left out: its flipped bytes change the pictures themselves.)
    same = [reports[name] for name in ("ai", "capture", "corrupt", "unsigned")]
    assert len({(r.verdict, r.probability) for r in same}) == 1


def test_verdict_text_mentions_only_a_decisive_ai_declaration(
    reports: dict[str, Report],
) -> None:
    decisive = reports["ai"].explanation
    assert "Content Credentials" in decisive and SIGNER_NAME in decisive and "AI" in decisive
    plain = reports["unsigned"].explanation
    assert decisive.startswith(plain)
    for name in ("capture", "corrupt", "unsigned"):  # the same pictures: the same text
        assert reports[name].explanation == plain, name
    # "changed" has other pictures (so possibly another score), and a manifest that no longer
    # matches them: its declaration must not reach the verdict text either.
    changed = reports["changed"].explanation
    assert changed.startswith("Inconclusive: the model") and "Content Credentials" not in changed


def test_untrusted_ai_declaration_is_not_decisive(
    c2pa_clips: SignedClips, tiny_model: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TRUST_ANCHORS_ENV, raising=False)
    report = analyze_video(
        c2pa_clips.ai, model=tiny_model, detector=create_detector("opencv-ssd"), num_frames=4,
        explain=False,
    )  # fmt: skip
    assert report.provenance is not None
    assert report.provenance.content_credentials.status == "untrusted_signer"
    assert "Content Credentials" not in report.explanation


def test_json_and_html_carry_the_section(reports: dict[str, Report], out_root: Path) -> None:
    report = reports["ai"]
    assert report.provenance is not None
    saved = Report.model_validate_json((out_root / "ai" / "report.json").read_text())
    assert saved.provenance == report.provenance
    html = (out_root / "ai" / "report.html").read_text()
    assert "<h2>Provenance</h2>" in html
    assert SIGNER_NAME in html and "trainedAlgorithmicMedia" in html
    assert "the signer says it was made with AI" in html
    absent = (out_root / "unsigned" / "report.html").read_text()
    assert "most videos have none, so this proves nothing" in absent


def test_old_reports_still_validate(reports: dict[str, Report]) -> None:
    old = reports["unsigned"].model_dump(mode="json", exclude={"provenance"})
    old["schema_version"] = "1.0"
    assert Report.model_validate(old).provenance is None
