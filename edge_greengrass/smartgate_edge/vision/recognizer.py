"""Text line recognition with PP-OCRv4 (CTC), decoding only characters that can appear on a plate.

Restricting the decoder to the plate alphabet (digits, Latin capitals, the Chinese region and
suffix characters) is how the model is used here, not a correction afterwards: at each time step the
most likely *allowed* symbol is taken, with its probability as that character's confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from smartgate_edge.vision.models import PP_OCRV4_REC, session

CN_CHARACTERS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼挂港澳警学使领"
PLATE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" + CN_CHARACTERS
HEIGHT = 48


@dataclass(frozen=True)
class LineText:
    text: str
    confidences: tuple[float, ...]
    log_prob: float = 0.0  # of this reading's best alignment
    alternatives: tuple[LineText, ...] = ()  # the next most likely readings, most likely first

    @property
    def confidence(self) -> float:
        return float(min(self.confidences)) if self.confidences else 0.0


class TextRecognizer:
    def __init__(
        self, threads: int = 2, sess: ort.InferenceSession | None = None, alphabet: str = PLATE_ALPHABET
    ) -> None:
        self.session = sess or session(PP_OCRV4_REC, threads)
        self.input = self.session.get_inputs()[0].name
        characters = ["<blank>", *self.session.get_modelmeta().custom_metadata_map["character"].splitlines(), " "]
        index = {c: i for i, c in enumerate(characters)}
        missing = [c for c in alphabet if c not in index]
        if missing:
            raise ValueError(f"the recognition model cannot read {''.join(missing)!r}")
        self.allowed = np.array([0, *(index[c] for c in alphabet)])
        self.symbols = ["", *alphabet]

    def _tensor(self, line: np.ndarray, width: int) -> np.ndarray:
        h, w = line.shape[:2]
        target = max(8, min(width, int(np.ceil(HEIGHT * w / max(h, 1)))))
        resized = cv2.resize(line, (target, HEIGHT), interpolation=cv2.INTER_LINEAR if h < HEIGHT else cv2.INTER_AREA)
        x = np.zeros((3, HEIGHT, width), np.float32)
        x[:, :, :target] = ((resized.astype(np.float32) / 127.5) - 1.0).transpose(2, 0, 1)
        return x

    def recognize(self, lines: list[np.ndarray], max_width: int = 320) -> list[LineText]:
        """Read several line images in one batch (e.g. the two rows of a plate)."""
        if not lines:
            return []
        width = min(max_width, max(int(np.ceil(HEIGHT * ln.shape[1] / max(ln.shape[0], 1))) for ln in lines))
        width = max(32, int(np.ceil(width / 8) * 8))
        batch = np.stack([self._tensor(ln, width) for ln in lines])
        probs = self.session.run(None, {self.input: batch})[0][:, :, self.allowed]
        return [self._decode(p) for p in probs]

    def _decode(self, probs: np.ndarray, n_best: int = 8, per_step: int = 3) -> LineText:
        """Greedy CTC reading, plus the n best alternative readings (prefix beam search, pruned)."""
        best = probs.argmax(1)
        text, confidences, previous = [], [], 0
        for step, symbol in enumerate(best):
            if symbol != 0 and symbol != previous:
                text.append(self.symbols[symbol])
                confidences.append(float(probs[step, symbol]))
            previous = symbol
        greedy = "".join(text)
        hypotheses = self._beam(probs, n_best, per_step)
        alternatives = tuple(h for h in hypotheses if h.text != greedy)[: n_best - 1]
        log_prob = float(np.log(np.clip(probs[np.arange(len(best)), best], 1e-9, 1)).sum())
        return LineText(greedy, tuple(confidences), log_prob, alternatives)

    def _beam(self, probs: np.ndarray, n_best: int, per_step: int) -> list[LineText]:
        """Best alignments of the most likely strings; each string keeps its best alignment's score."""
        # beam entries: text -> (log prob, last symbol, per-character confidences)
        beam: dict[tuple[int, ...], tuple[float, int, tuple[float, ...]]] = {(): (0.0, 0, ())}
        logs = np.log(np.clip(probs, 1e-9, 1.0))
        top = np.argsort(-probs, axis=1)[:, :per_step]
        for t in range(probs.shape[0]):
            nxt: dict[tuple[int, ...], tuple[float, int, tuple[float, ...]]] = {}
            for prefix, (score, last, conf) in beam.items():
                for symbol in top[t]:
                    s = score + logs[t, symbol]
                    if symbol == 0 or symbol == last:
                        key, c = prefix, conf
                    else:
                        key, c = prefix + (int(symbol),), conf + (float(probs[t, symbol]),)
                    if key not in nxt or nxt[key][0] < s:
                        nxt[key] = (s, int(symbol), c)
            beam = dict(sorted(nxt.items(), key=lambda kv: -kv[1][0])[: n_best * 2])
        ranked = sorted(beam.items(), key=lambda kv: -kv[1][0])[:n_best]
        return [LineText("".join(self.symbols[i] for i in key), conf, score) for key, (score, _, conf) in ranked]
