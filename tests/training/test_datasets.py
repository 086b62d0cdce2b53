"""Dataset loaders, each on a tiny fixture in the real layout built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepverify.errors import DatasetError
from deepverify.training.datasets import (
    DatasetOptions,
    ManifestReport,
    available_formats,
    load_dataset,
)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00")
    return path


def test_registry_lists_formats_and_rejects_unknown(tmp_path: Path) -> None:
    assert available_formats() == ["celebdf", "dfdc", "ffpp", "folder"]
    with pytest.raises(DatasetError, match="valid: celebdf, dfdc, ffpp, folder"):
        load_dataset(tmp_path, "kinetics")


def test_folder_reads_real_and_fake(tmp_path: Path) -> None:
    _touch(tmp_path / "real" / "a.mp4")
    _touch(tmp_path / "real" / "a.jpg")
    _touch(tmp_path / "fake" / "b.mp4")
    _touch(tmp_path / "fake" / "notes.txt")
    items = load_dataset(tmp_path, "folder")
    assert sorted((i.path.name, i.label) for i in items) == [
        ("a.jpg", 0),
        ("a.mp4", 0),
        ("b.mp4", 1),
    ]
    groups = {i.path.name: i.group for i in items}
    assert groups["a.jpg"] == groups["a.mp4"] != groups["b.mp4"]
    assert len({i.item_id for i in items}) == 3
    assert [i.is_image for i in items if i.path.name == "a.jpg"] == [True]


def test_folder_wrong_layout(tmp_path: Path) -> None:
    _touch(tmp_path / "videos" / "a.mp4")
    with pytest.raises(DatasetError, match=r"real/ and fake/"):
        load_dataset(tmp_path, "folder")
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope", "folder")


def test_dfdc_metadata_and_test_labels(tmp_path: Path) -> None:
    part = tmp_path / "dfdc_train_part_0"
    meta = {
        "real1.mp4": {"label": "REAL", "split": "train"},  # "original" missing on a real entry
        "fake1.mp4": {"label": "FAKE", "split": "train", "original": "real1.mp4"},
        "fake2.mp4": {"label": "FAKE", "split": "train", "original": "real1.mp4"},
        "real2.mp4": {"label": "REAL", "split": "train", "original": None},
    }
    part.mkdir()
    (part / "metadata.json").write_text(json.dumps(meta))
    for name in meta:
        _touch(part / name)
    test = tmp_path / "test"
    test.mkdir()
    (test / "labels.csv").write_text("filename,label\naaa.mp4,1\nbbb.mp4,0\n")
    items = {i.path.name: i for i in load_dataset(tmp_path, "dfdc")}
    assert items["fake1.mp4"].label == 1 and items["real1.mp4"].label == 0
    assert items["fake1.mp4"].group == items["fake2.mp4"].group == items["real1.mp4"].group
    assert items["real2.mp4"].group != items["real1.mp4"].group
    assert items["aaa.mp4"].label == 1 and items["bbb.mp4"].label == 0
    assert items["aaa.mp4"].split == "test" and items["real1.mp4"].split is None


def test_dfdc_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a DFDC folder"):
        load_dataset(tmp_path, "dfdc")
    part = tmp_path / "dfdc_train_part_3"
    part.mkdir()
    (part / "metadata.json").write_text("{not json")
    with pytest.raises(DatasetError, match="valid JSON"):
        load_dataset(tmp_path, "dfdc")
    (part / "metadata.json").write_text(json.dumps({"x.mp4": {"label": "MAYBE"}}))
    with pytest.raises(DatasetError, match="REAL or FAKE"):
        load_dataset(tmp_path, "dfdc")


def _ffpp_fixture(root: Path, comp: str = "c23") -> None:
    for vid in ("000", "003", "010", "020"):
        _touch(root / "original_sequences" / "youtube" / comp / "videos" / f"{vid}.mp4")
    _touch(root / "original_sequences" / "actors" / comp / "videos" / "01__walk.mp4")
    for method, pair in (
        ("Deepfakes", "000_003"),
        ("FaceSwap", "003_000"),
        ("Face2Face", "010_020"),
    ):
        _touch(root / "manipulated_sequences" / method / comp / "videos" / f"{pair}.mp4")
    _touch(
        root
        / "manipulated_sequences"
        / "DeepFakeDetection"
        / comp
        / "videos"
        / "01_02__walk__AB12.mp4"
    )
    splits = root / "splits"
    splits.mkdir(parents=True, exist_ok=True)
    (splits / "train.json").write_text(json.dumps([["000", "003"]]))
    (splits / "test.json").write_text(json.dumps([["010", "020"]]))


def test_ffpp_groups_methods_and_official_splits(tmp_path: Path) -> None:
    _ffpp_fixture(tmp_path)
    items = {i.item_id: i for i in load_dataset(tmp_path, "ffpp")}
    assert (
        items["Deepfakes_000_003"].group
        == items["original_000"].group
        == items["original_003"].group
    )
    assert items["Face2Face_010_020"].group == items["original_020"].group
    assert items["original_000"].group != items["original_010"].group
    assert items["original_000"].split == "train" and items["Face2Face_010_020"].split == "test"
    assert items["DeepFakeDetection_01_02__walk__AB12"].group == items["original_01__walk"].group
    assert items["DeepFakeDetection_01_02__walk__AB12"].split is None
    assert sum(i.label for i in items.values()) == 4
    chosen = load_dataset(tmp_path, "ffpp", DatasetOptions(methods=("Deepfakes",)))
    assert {i.method for i in chosen if i.label} == {"Deepfakes"}


def test_ffpp_bad_options_and_layout(tmp_path: Path) -> None:
    _ffpp_fixture(tmp_path)
    with pytest.raises(DatasetError, match="unknown FF\\+\\+ method"):
        load_dataset(tmp_path, "ffpp", DatasetOptions(methods=("DeepFool",)))
    with pytest.raises(DatasetError, match=r"unknown compression 'c99'; valid: raw, c23, c40"):
        load_dataset(tmp_path, "ffpp", DatasetOptions(compression="c99"))
    with pytest.raises(DatasetError, match="no FF\\+\\+ videos"):
        load_dataset(tmp_path, "ffpp", DatasetOptions(compression="c40"))
    with pytest.raises(
        DatasetError, match=r"not a FaceForensics\+\+ folder: original_sequences/ is missing"
    ):
        load_dataset(tmp_path / "splits", "ffpp")


def test_celebdf_reverse_test_labels(tmp_path: Path) -> None:
    for rel in (
        "Celeb-real/id0_0000.mp4",
        "Celeb-real/id1_0001.mp4",
        "Celeb-synthesis/id0_id1_0000.mp4",
        "YouTube-real/00170.mp4",
    ):
        _touch(tmp_path / rel)
    (tmp_path / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n"
    )
    items = {i.path.name: i for i in load_dataset(tmp_path, "celebdf")}
    assert items["id0_id1_0000.mp4"].label == 1 and items["00170.mp4"].label == 0
    assert items["id0_id1_0000.mp4"].group == items["id0_0000.mp4"].group == "id0"
    assert items["id1_0001.mp4"].group == "id1"
    assert items["00170.mp4"].split == "test" and items["id0_0000.mp4"].split is None
    (tmp_path / "List_of_testing_videos.txt").write_text("1 Celeb-synthesis/id0_id1_0000.mp4\n")
    with pytest.raises(DatasetError, match="against its folder"):
        load_dataset(tmp_path, "celebdf")


def test_shared_eval_reads_as_folder(shared_data: Path) -> None:
    items = load_dataset(shared_data / "eval", "folder")
    assert len(items) == 17 and sum(i.label for i in items) == 11


def test_folder_manifest_gives_groups_methods_and_reports_bad_rows(tmp_path: Path) -> None:
    root = tmp_path / "train"
    for name in ("real/a.mp4", "fake/a_b.mp4", "fake/c.mp4", "fake/unlisted.mp4", "real/d.mp4"):
        _touch(root / name)
    rows = [
        {"file": "train/real/a.mp4", "label": "REAL", "group": "ab"},
        {"file": "train/fake/a_b.mp4", "label": "FAKE", "group": "ab", "manipulation": "FaceSwap"},
        {"file": "train/fake/c.mp4", "label": "fake", "group": "c", "manipulation": "Wav2Lip"},
        {"file": "train/real/d.mp4", "label": "FAKE", "group": "d"},  # contradicts its folder
        {"file": "train/fake/gone.mp4", "label": "FAKE", "group": "g"},  # missing file
        {"file": "train/real/a.mp4", "label": "MAYBE", "group": "x"},  # not REAL/FAKE
        {"label": "REAL"},  # no file
    ]
    (root / "manifest.json").write_text(json.dumps(rows))
    report = ManifestReport()
    items = {i.path.name: i for i in load_dataset(root, "folder", DatasetOptions(report=report))}
    assert set(items) == {"a.mp4", "a_b.mp4", "c.mp4"}
    assert items["a.mp4"].group == items["a_b.mp4"].group == "ab"  # a fake joins its source
    assert (items["a_b.mp4"].method, items["c.mp4"].method, items["a.mp4"].method) == (
        "FaceSwap",
        "Wav2Lip",
        "",
    )
    problems = "\n".join(report.problems)
    assert len(report.problems) == 5
    for needle in ("gone.mp4 does not exist", "'MAYBE'", "no 'file'", "d.mp4 is labelled FAKE",
                   "unlisted.mp4 is not in"):  # fmt: skip
        assert needle in problems


def test_folder_manifest_conflicting_rows_are_dropped(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _touch(root / "fake" / "x.mp4")
    _touch(root / "fake" / "y.mp4")
    rows = {"eval": [{"file": "fake/x.mp4", "label": "FAKE"}, {"file": "fake/x.mp4",
            "label": "REAL"}, {"file": "fake/y.mp4", "label": "FAKE", "pair_id": "p"}]}  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(rows))
    report = ManifestReport()
    items = load_dataset(root, "folder", DatasetOptions(report=report))
    assert [(i.path.name, i.group) for i in items] == [("y.mp4", "p")]
    assert any("listed again with another label" in p for p in report.problems)


def test_shared_train_manifest_keeps_sources_with_their_fakes(shared_data: Path) -> None:
    items = load_dataset(shared_data / "train", "folder")
    assert len(items) == 200 and sum(i.label for i in items) == 111
    by_group: dict[str, set[int]] = {}
    for item in items:
        by_group.setdefault(item.group, set()).add(item.label)
    assert sum(len(labels) == 2 for labels in by_group.values()) >= 10
    assert {"Deepfakes", "FaceSwap", "Face2Face", "NeuralTextures"} <= {i.method for i in items}
