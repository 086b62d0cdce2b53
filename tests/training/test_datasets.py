"""Dataset loaders, each on a tiny fixture in the real layout built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepverify.errors import DatasetError
from deepverify.training.datasets import (
    DatasetOptions,
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
    with pytest.raises(DatasetError, match="compression"):
        load_dataset(tmp_path, "ffpp", DatasetOptions(compression="c99"))
    with pytest.raises(DatasetError, match="no FF\\+\\+ videos"):
        load_dataset(tmp_path, "ffpp", DatasetOptions(compression="c40"))
    with pytest.raises(DatasetError, match="original_sequences"):
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
