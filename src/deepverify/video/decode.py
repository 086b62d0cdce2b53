"""Decode the sampled frames and find the faces in them, the two stages overlapped.

A decoder thread feeds a small bounded queue with each frame and its preview (longest side
:data:`~deepverify.imaging.PREVIEW_MAX_SIDE`, for the report's images; made there because the
decoder waits on detection anyway); the caller's thread runs face detection on each frame as it
arrives (detectors work on a downscaled copy; YuNet, at the preview's size, on the preview
itself) and keeps only what the later stages need: the
preview and, per face, the network's input crop and its square window. The
full-resolution frame is dropped at once, so memory holds a few frames whatever the video's
length or resolution. PyAV and OpenCV release the GIL, so decoding and detection use both cores.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepverify.defaults import MAX_FACES_PER_FRAME
from deepverify.faces import Detection, FaceDetector
from deepverify.faces import crops as crops_mod
from deepverify.geometry import area
from deepverify.imaging import PREVIEW_MAX_SIDE, Downscaled, downscaled
from deepverify.stages import DECODE, FACES
from deepverify.video.frames import Check, Frame, FrameStream, VideoInfo

QUEUE_FRAMES = 3
"""Decoded frames waiting for detection at most (bounds memory, keeps the decoder ahead)."""
_POLL_S = 0.1


@dataclass(frozen=True)
class Face:
    """One detected face, cut out for the network.

    Attributes:
        detection: The detector's box and score, full-resolution pixels.
        crop: The square crop the network sees, RGB ``uint8`` at the card's input size.
        window: The square crop window ``(x1, y1, x2, y2)`` in full-resolution pixels.
    """

    detection: Detection
    crop: np.ndarray
    window: tuple[int, int, int, int]


@dataclass(frozen=True)
class SampledFrame:
    """A sampled frame reduced to what the later stages need.

    Attributes:
        index: Frame index in the stream.
        timestamp: Seconds from the start.
        preview: The frame, RGB ``uint8``, downscaled for the report's images.
        scale: Factor from full-resolution coordinates to ``preview`` (<= 1).
        faces: The faces kept, best first: at most :data:`MAX_FACES_PER_FRAME`, the largest.
        faces_found: How many faces the detector found (more than ``faces`` in a crowd).
    """

    index: int
    timestamp: float
    preview: np.ndarray
    scale: float
    faces: tuple[Face, ...] = field(default=())
    faces_found: int = 0

    @property
    def detections(self) -> list[Detection]:
        """The faces' detections, best first (what tracking links)."""
        return [face.detection for face in self.faces]

    def face_number(self, detection: Detection) -> int:
        """Where in :attr:`faces` the face a detection belongs to is (found by identity)."""
        for number, face in enumerate(self.faces):
            if face.detection is detection:
                return number
        raise KeyError("the detection does not belong to this frame")

    def face(self, detection: Detection) -> Face:
        """The face a detection of this frame belongs to (found by identity)."""
        return self.faces[self.face_number(detection)]


@dataclass(frozen=True)
class Sampled:
    """What decoding and detection give: the video's description, its frames and timings.

    Attributes:
        info: The video as measured by the decoder.
        frames: The sampled frames in time order.
        decode_s: Wall seconds until the decoder had delivered its last frame.
        faces_s: Seconds spent detecting and cropping faces (overlapping the decode).
    """

    info: VideoInfo
    frames: list[SampledFrame]
    decode_s: float
    faces_s: float


_DONE = object()


def decode_and_detect(
    path: Path,
    num_frames: int,
    *,
    detector: FaceDetector,
    margin: float,
    size: int,
    notify: Callable[[str, float], None],
    check: Check | None = None,
    on_frame: Callable[[SampledFrame], None] | None = None,
) -> Sampled:
    """Decode ``num_frames`` sampled frames of ``path`` and find the faces in them.

    Args:
        path: The video file.
        num_frames: Frames to sample uniformly over the whole video.
        detector: The face detector (used from the caller's thread only).
        margin: Crop margin, as in :func:`deepverify.faces.crops.crop_face`.
        size: Crop side in pixels.
        notify: Progress callback, called from the caller's thread only.
        check: Cooperative stop hook (see :data:`deepverify.video.frames.Check`), called as packets
            and frames are decoded and before each frame's detection; raising stops the work.
        on_frame: Called from the caller's thread with each frame as soon as its faces are
            cut out (the pipeline starts scoring them while decoding goes on).

    Raises:
        InvalidVideoError: The file is not a decodable video.
    """
    started = time.perf_counter()
    stream = FrameStream(path, num_frames, check=check)  # demux pass: bad files fail here
    total = len(stream.wanted)
    handoff: queue.Queue[object] = queue.Queue(maxsize=QUEUE_FRAMES)
    stop = threading.Event()
    decode_done = [0.0]

    def put(item: object) -> bool:
        """Hand ``item`` over unless the caller has stopped listening."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        frames = iter(stream)
        last: object = _DONE
        try:
            for frame in frames:
                if not put(_Decoded(frame, downscaled(frame.image, PREVIEW_MAX_SIDE))):
                    return
        except BaseException as exc:  # handed to the caller's thread and raised there
            last = exc
        finally:
            frames.close()  # releases the container now, not at garbage collection
        decode_done[0] = time.perf_counter() - started
        put(last)

    decoder = threading.Thread(target=produce, name="decode", daemon=True)
    decoder.start()
    frames: list[SampledFrame] = []
    faces_s = 0.0
    try:
        while (item := _next_decoded(handoff)) is not None:
            if check is not None:
                check()
            notify(DECODE, min(1.0, (len(frames) + 1) / total) if total else 1.0)
            tick = time.perf_counter()
            frames.append(_reduce(item, detector, margin=margin, size=size))
            item = None  # the full-resolution frame goes now, not when the next one arrives
            faces_s += time.perf_counter() - tick
            if on_frame is not None:
                on_frame(frames[-1])
            notify(FACES, len(frames) / total if total else 1.0)
    finally:
        stop.set()
        decoder.join()
    frames.sort(key=lambda f: f.index)
    return Sampled(info=stream.info, frames=frames, decode_s=decode_done[0], faces_s=faces_s)


def _next_decoded(handoff: queue.Queue[object]) -> _Decoded | None:
    """The decoder thread's next frame; None when it is done; its exception, raised here."""
    item = handoff.get()
    if item is _DONE:
        return None
    if isinstance(item, BaseException):
        raise item
    assert isinstance(item, _Decoded)
    return item


@dataclass(frozen=True)
class _Decoded:
    """What the decoder thread hands over: the frame and its preview.

    A detector working at the preview's size runs on it rather than shrinking the frame again.
    """

    frame: Frame
    preview: Downscaled


def detect_frame(frame: Frame, *, detector: FaceDetector, margin: float, size: int) -> SampledFrame:
    """Find and cut out the faces of one frame, as :func:`decode_and_detect` does for each.

    For a frame that does not come from a video (a still photo of a training set), so it is
    cropped exactly as a video's frames are.

    Args:
        frame: The full-resolution frame.
        detector: The face detector.
        margin: Crop margin, as in :func:`deepverify.faces.crops.crop_face`.
        size: Crop side in pixels.
    """
    preview = downscaled(frame.image, PREVIEW_MAX_SIDE)
    return _reduce(_Decoded(frame, preview), detector, margin=margin, size=size)


def _reduce(item: _Decoded, detector: FaceDetector, *, margin: float, size: int) -> SampledFrame:
    """Detect the faces of a full-resolution frame and keep only crops and the preview."""
    frame = item.frame
    image = frame.image
    frame_size = (image.shape[1], image.shape[0])
    found = detector.detect(image, small=item.preview)
    faces = tuple(
        Face(
            detection=det,
            crop=crops_mod.crop_face(image, det.box, margin=margin, size=size),
            window=crops_mod.square_box(det.box, margin=margin, frame_size=frame_size),
        )
        for det in largest(found, MAX_FACES_PER_FRAME)
    )
    return SampledFrame(
        index=frame.index,
        timestamp=frame.timestamp,
        preview=np.ascontiguousarray(item.preview.image),
        scale=item.preview.scale,
        faces=faces,
        faces_found=len(found),
    )


def largest(detections: list[Detection], most: int) -> list[Detection]:
    """The ``most`` largest of ``detections`` (by box area), in their order (best first)."""
    if len(detections) <= most:
        return detections
    ranked = sorted(range(len(detections)), key=lambda i: -area(detections[i].box))
    return [detections[i] for i in sorted(ranked[:most])]
