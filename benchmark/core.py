"""The smallest shared vocabulary: modalities and the audio sample rate. Everything may import
this module; it imports nothing of the project."""

from typing import Literal

Modality = Literal["text", "speech"]
MODALITIES: tuple[Modality, ...] = ("text", "speech")
SAMPLE_RATE = 16_000
