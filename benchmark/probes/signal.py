"""What the audio signal alone gives: the signal floor of the speech tasks.

A clip's signal vector knows nothing of its words: per 20 ms frame, the log energy, whether the
frame is a pause, its energy slope, its relative place in the clip and the clip's duration,
passed through one fixed random projection and tanh, and averaged over the frames. Translations
share some of that — their lengths, where their pauses fall, how their energy rises and falls with
the sentence — and a speech score is read against it: its margin over the signal floor, drawn on
the same draws. The known-answer `signal` model (benchmark.models.known) is this same function,
run through the harness like any model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.core import SAMPLE_RATE

FRAME = SAMPLE_RATE // 50  # 20 ms, the frame rate of most speech encoders
SIGNAL_DIM = 64
PAUSE_DB = 6.0  # a frame this far (natural-log units) below the clip's loudest is a pause
_PROJECTION = np.random.default_rng(20261205).standard_normal((6, SIGNAL_DIM))


def frame_features(clip: np.ndarray) -> np.ndarray:
    """[frames, 6]: log energy, pause, energy slope, relative place, duration, place x pause."""
    clip = np.asarray(clip, dtype=np.float64).reshape(-1)
    n = max(1, len(clip) // FRAME)
    frames = np.zeros((n, FRAME))
    usable = min(len(clip), n * FRAME)
    frames.reshape(-1)[:usable] = clip[:usable]
    energy = np.log(np.mean(frames**2, axis=1) + 1e-8)
    pause = (energy < energy.max() - PAUSE_DB).astype(float)
    slope = np.gradient(energy) if n > 1 else np.zeros(1)
    place = np.linspace(0.0, 1.0, n)
    duration = np.full(n, len(clip) / SAMPLE_RATE / 5.0)
    return np.column_stack([energy / 10.0, pause, slope, place, duration, place * pause])


def frame_vectors(clip: np.ndarray) -> np.ndarray:
    """[frames, SIGNAL_DIM]: each frame's features through the fixed projection."""
    return np.tanh(frame_features(clip) @ _PROJECTION)


def signal_vectors(clips: Sequence[np.ndarray]) -> np.ndarray:
    """[n, SIGNAL_DIM]: each clip as the mean of its frames' signal vectors."""
    return np.stack([frame_vectors(clip).mean(axis=0) for clip in clips])
