"""Session fixtures: one tiny face dataset and its crop cache, shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepverify.training.cache import ExtractOptions, ExtractSummary, extract_dataset
from deepverify.training.datasets import load_dataset
from tests.training.helpers import make_face_dataset

TINY_EXTRACT = ExtractOptions(num_frames=6, margin=0.5, size=96)


@pytest.fixture(scope="session")
def face_dataset(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    return make_face_dataset(tmp_path_factory.mktemp("faces") / "data", shared_data)


@pytest.fixture(scope="session")
def face_cache(
    tmp_path_factory: pytest.TempPathFactory, face_dataset: Path
) -> tuple[Path, ExtractSummary]:
    cache = tmp_path_factory.mktemp("cache") / "cache"
    summary = extract_dataset(load_dataset(face_dataset, "folder"), cache, TINY_EXTRACT)
    return cache, summary
