"""Engines: the ONNX graph matches PyTorch on real crops; a graph not its card's is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from deepverify.engine import load_engine
from deepverify.errors import ModelError
from deepverify.faces.crops import normalize
from deepverify.model import ModelCard, card_path, default_model_path
from tests.engine.helpers import score_track

pytest.importorskip("torch")


def _compare(path: Path, crops: list[np.ndarray]) -> float:
    """Largest logit difference between the engines; feature maps must agree to 1e-4 relative."""
    onnx, torch_ = load_engine(path, engine="onnx"), load_engine(path, engine="torch")
    card = onnx.card
    batch = normalize(crops, mean=card.mean, std=card.std)
    worst = 0.0
    for n in (1, 3, len(batch)):  # the graph takes any number of crops
        a, b = score_track(onnx, batch[:n]), score_track(torch_, batch[:n])
        worst = max(
            worst,
            abs(a.video_logit - b.video_logit),
            float(np.abs(a.frame_logits - b.frame_logits).max()),
        )
        # Activations reach ~6 (ReLU6): float32 reordering gives ~1e-4 absolute there.
        scale = float(np.abs(b.feature_maps).max())
        np.testing.assert_allclose(a.feature_maps, b.feature_maps, rtol=0, atol=1e-4 * scale)
    np.testing.assert_array_equal(onnx.cam_weights, torch_.cam_weights)
    return worst


@pytest.mark.slow
def test_packaged_onnx_matches_pytorch_on_real_crops(real_face_crops):
    path = default_model_path()
    if path is None:
        pytest.skip("no packaged default model")
    assert _compare(path, real_face_crops) <= 1e-4


def test_tiny_onnx_matches_pytorch(tiny_checkpoint, real_face_crops):
    import cv2

    crops = [cv2.resize(c, (64, 64), interpolation=cv2.INTER_AREA) for c in real_face_crops]
    assert _compare(tiny_checkpoint, crops) <= 1e-4


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_crops_scored_a_few_at_a_time_give_the_whole_track_scores(
    tiny_checkpoint, real_face_crops, engine
):
    """What the pipeline does (each frame's faces as found, the sequence at the end) is what
    scoring the whole track at once gives."""
    import cv2

    model = load_engine(tiny_checkpoint, engine=engine)
    card = model.card
    crops = [cv2.resize(c, (64, 64), interpolation=cv2.INTER_AREA) for c in real_face_crops]
    batch = normalize(crops * 3, mean=card.mean, std=card.std)  # more than one chunk
    whole = score_track(model, batch)
    parts = [model.score_crops(batch[i : i + 1]) for i in range(len(batch))]
    features = np.concatenate([p.features for p in parts])
    assert model.score_sequence(features) == pytest.approx(whole.video_logit, abs=1e-5)
    logits = np.concatenate([p.frame_logits for p in parts])
    np.testing.assert_allclose(logits, whole.frame_logits, atol=1e-5)
    maps = np.concatenate([p.feature_maps for p in parts])
    np.testing.assert_allclose(maps, whole.feature_maps, atol=1e-5)
    # The sequence part models time: the same features in another order score differently.
    assert model.score_sequence(features[::-1]) != pytest.approx(whole.video_logit, abs=1e-4)


def _copy(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    for suffix in (".safetensors", ".json", ".onnx"):
        shutil.copy(tiny_checkpoint.with_suffix(suffix), tmp_path / f"m{suffix}")
    return tmp_path / "m.onnx"


def test_any_file_of_the_model_loads(tiny_checkpoint, tmp_path):
    graph = _copy(tiny_checkpoint, tmp_path)
    for path in (graph, graph.with_suffix(".json"), graph.with_suffix(".safetensors")):
        assert load_engine(path).card.input_size == 64


def test_tampered_graph_is_refused(tiny_checkpoint, tmp_path):
    graph = _copy(tiny_checkpoint, tmp_path)
    graph.write_bytes(graph.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="does not match its card"):
        load_engine(graph)


def test_corrupt_graph_with_matching_card_is_one_error(tiny_checkpoint, tmp_path):
    from deepverify.files import sha256_file

    graph = _copy(tiny_checkpoint, tmp_path)
    graph.write_bytes(b"not a graph")
    card = ModelCard.read(card_path(graph))
    fixed = card.replace(onnx_sha256=sha256_file(graph))
    card_path(graph).write_text(fixed.to_json(), encoding="utf-8")
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_engine(graph)


def test_graph_for_another_input_size_is_refused(tiny_checkpoint, tmp_path):
    graph = _copy(tiny_checkpoint, tmp_path)
    card = ModelCard.read(card_path(graph))
    card_path(graph).write_text(card.replace(input_size=96).to_json(), "utf-8")
    with pytest.raises(ModelError, match="takes crops of shape"):
        load_engine(graph)


def test_graph_of_another_interface_is_refused(tiny_checkpoint, tmp_path):
    """A graph exported before crops and sequences were scored apart: one clear error."""
    import onnx
    from onnx import TensorProto, helper

    from deepverify.files import sha256_file

    graph = _copy(tiny_checkpoint, tmp_path)
    crops = helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["n", 3, 64, 64])
    logits = helper.make_tensor_value_info("frame_logits", TensorProto.FLOAT, ["n", 3, 64, 64])
    node = helper.make_node("Identity", ["crops"], ["frame_logits"])
    proto = helper.make_model(
        helper.make_graph([node], "old", [crops], [logits]),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    proto.ir_version = 8
    onnx.save(proto, str(graph))
    card = ModelCard.read(card_path(graph))
    fixed = card.replace(onnx_sha256=sha256_file(graph))
    card_path(graph).write_text(fixed.to_json(), encoding="utf-8")
    with pytest.raises(ModelError, match="re-export it with `deepverify model export"):
        load_engine(graph)


def test_missing_graph_says_how_to_export(tiny_checkpoint, tmp_path):
    graph = _copy(tiny_checkpoint, tmp_path)
    graph.unlink()
    with pytest.raises(ModelError, match="model export"):
        load_engine(graph.with_suffix(".json"))


def test_unknown_engine_and_device_are_refused(tiny_checkpoint):
    with pytest.raises(ModelError, match="unknown engine"):
        load_engine(tiny_checkpoint, engine="tensorrt")
    with pytest.raises(ModelError, match="engine torch"):
        load_engine(tiny_checkpoint, engine="onnx", device="cuda")


def test_exported_graph_has_no_shape_arithmetic(tiny_checkpoint):
    import onnx

    nodes = onnx.load(str(tiny_checkpoint.with_suffix(".onnx"))).graph.node
    assert sum(node.op_type == "Conv" for node in nodes) == 49
    assert not [node.name for node in nodes if node.op_type == "Ceil"]  # runtime "same" padding
    # The only shape the graph reads is the track's length, for the LSTM's initial state.
    assert [node.name for node in nodes if node.op_type == "Shape"] == ["/lstm/Shape"]


def test_onnx_runtime_fuses_the_constant_padding_into_the_convolutions(tiny_checkpoint, tmp_path):
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(
        str(tiny_checkpoint.with_suffix(".onnx")), options, providers=["CPUExecutionProvider"]
    )
    ops = {node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node}
    assert "Conv" in ops and "Pad" not in ops, sorted(ops)
