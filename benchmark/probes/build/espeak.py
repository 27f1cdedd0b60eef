"""Speech from libespeak-ng through ctypes: the waveform plus the sample where each word starts.

The command-line tool gives audio only; the library's synthesis callback also reports WORD events
(character offset and length in the input text, and the output sample where the word starts), which
is what word time spans in the concepts set come from.
"""

from __future__ import annotations

import _ctypes
import ctypes
import ctypes.util
import threading
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy.signal import resample_poly

from benchmark.errors import UsageError

TARGET_RATE = 16_000

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # keep the sentence-final pause, as the command line does
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_END = 5
_PARAM_RATE = 1
_PARAM_PITCH = 3
_POS_CHARACTER = 1


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # union {int, const char*, char[8]}
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class WordEvent:
    """One espeak WORD event: text[char_start : char_start + char_len] starts at `start_sample`."""

    char_start: int  # 0-based index into the Python string
    char_len: int
    start_sample: int


@dataclass
class Synthesis:
    waveform: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    words: list[WordEvent]
    clause_ends: list[int]  # samples where espeak reported the end of a clause or sentence

    @property
    def duration_s(self) -> float:
        return len(self.waveform) / self.sample_rate


class EspeakError(UsageError):
    pass


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


class Espeak:
    """libespeak-ng, loaded afresh for every utterance.

    The library keeps per-process state that leaks from one utterance into the next (the pitch
    flutter phase, the gain control, libc rand() for breath noise), so the same sentence comes out
    slightly differently depending on what was spoken before. Reloading the library and reseeding
    rand() makes every utterance byte-identical to running `espeak-ng -v VOICE -s RATE -p PITCH`
    on it alone (see `matches_cli`), whatever the build order or subset. It costs ~6 ms per call.
    """

    def __init__(self, library: str | None = None):
        self.library = library or ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        self._lock = threading.Lock()
        lib = self._load()
        try:
            self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 500, None, 0)
            self.version = lib.espeak_Info(None).decode().split()[0]
        finally:
            self._unload(lib)
        if self.sample_rate <= 0:
            raise EspeakError("espeak_Initialize failed: is espeak-ng-data installed?")

    def _load(self) -> ctypes.CDLL:
        try:
            lib = ctypes.CDLL(self.library)
        except OSError as err:
            raise EspeakError(
                f"cannot load {self.library}: install libespeak-ng (Debian: apt-get install espeak-ng)"
            ) from err
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        return lib

    @staticmethod
    def _unload(lib: ctypes.CDLL) -> None:
        lib.espeak_Terminate()
        _ctypes.dlclose(lib._handle)  # the next dlopen starts from a clean library state

    def synthesize(self, text: str, voice: str, rate: int = 175, pitch: int = 50) -> Synthesis:
        """Speak `text` with `voice` (e.g. "es-419+m3"), `rate` in words per minute, `pitch` 0-100."""
        chunks: list[np.ndarray] = []
        events: list[tuple[int, int, int, int, int]] = []

        def on_audio(wav, n_samples, evs) -> int:
            if n_samples > 0:
                chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
            i = 0
            while evs[i].type != _EVENT_LIST_TERMINATED:
                e = evs[i]
                events.append((e.type, e.text_position, e.length, e.audio_position, e.sample))
                i += 1
            return 0

        callback = _Callback(on_audio)
        data = text.encode("utf-8") + b"\0"
        with self._lock:
            lib = self._load()
            try:
                lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 500, None, 0)
                lib.espeak_SetSynthCallback(callback)
                # same order as the espeak-ng command line: parameters, then the voice
                lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
                lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
                if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                    raise EspeakError(
                        f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices`)"
                    )
                _libc().srand(1)  # a fresh process's rand() state, as the command line has
                flags = _CHARS_UTF8 | _ENDPAUSE
                status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, flags, None, None)
            finally:
                self._unload(lib)
        if status != 0:
            raise EspeakError(f"espeak_Synth failed with status {status} for voice {voice!r}")
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        waveform = pcm.astype(np.float32) / 32768.0
        words, clause_ends = [], []
        for kind, pos, length, ms, sample in events:
            # `sample` is the exact output position; `audio_position` (ms) is its rounded twin
            if abs(sample - ms * self.sample_rate / 1000) > self.sample_rate / 100:
                sample = round(ms * self.sample_rate / 1000)
            if kind == _EVENT_WORD:
                words.append(WordEvent(pos - 1, length, sample))
            elif kind == _EVENT_END:
                clause_ends.append(sample)
        return Synthesis(waveform, self.sample_rate, words, clause_ends)


def matches_cli(text: str, voice: str, rate: int = 175, pitch: int = 50) -> tuple[int, int, float]:
    """Synthesize with the library and with the `espeak-ng` command; return (library samples,
    command samples, max abs difference). A validation of this module, used by the tests."""
    import subprocess
    import tempfile

    import soundfile as sf

    synth = engine().synthesize(text, voice, rate, pitch)
    with tempfile.TemporaryDirectory() as tmp:
        wav = f"{tmp}/cli.wav"
        cmd = ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", wav, text]
        subprocess.run(cmd, check=True, capture_output=True)
        cli, _ = sf.read(wav, dtype="float32")
    n = min(len(cli), len(synth.waveform))
    diff = float(np.abs(cli[:n] - synth.waveform[:n]).max()) if n else 0.0
    return len(synth.waveform), len(cli), diff


@lru_cache(maxsize=1)
def engine() -> Espeak:
    return Espeak()


def resample(synth: Synthesis, rate: int = TARGET_RATE) -> Synthesis:
    """Resample the waveform (polyphase) and move every event sample to the new rate."""
    if synth.sample_rate == rate:
        return synth
    g = np.gcd(rate, synth.sample_rate)
    up, down = rate // g, synth.sample_rate // g  # 320 / 441 for 22050 -> 16000
    wav = resample_poly(synth.waveform, up, down).astype(np.float32)
    np.clip(wav, -1.0, 1.0, out=wav)

    def scale(s: int) -> int:
        return min(len(wav), round(s * rate / synth.sample_rate))

    words = [replace(w, start_sample=scale(w.start_sample)) for w in synth.words]
    return Synthesis(wav, rate, words, [scale(s) for s in synth.clause_ends])


def voiced_frames(
    waveform: np.ndarray, sample_rate: int, frame_s: float = 0.005, floor_db: float = -45.0
):
    """Boolean per frame: RMS above `floor_db` relative to the loudest frame (espeak pauses are ~silent)."""
    hop = max(1, int(frame_s * sample_rate))
    n = len(waveform) // hop
    if n == 0:
        return np.zeros(0, dtype=bool), hop
    frames = waveform[: n * hop].reshape(n, hop)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    peak = rms.max()
    if peak <= 0:
        return np.zeros(n, dtype=bool), hop
    return rms > peak * 10 ** (floor_db / 20), hop


def trim_silence(synth: Synthesis, pad_s: float = 0.05) -> Synthesis:
    """Exactly `pad_s` of silence at each end: cut what is beyond it, add zeros where espeak-ng
    starts or stops speaking at once. Event samples shift with the audio."""
    voiced, hop = voiced_frames(synth.waveform, synth.sample_rate)
    if not voiced.any():
        return synth
    pad = int(pad_s * synth.sample_rate)
    first = int(np.argmax(voiced)) * hop
    last = min(len(synth.waveform), (len(voiced) - int(np.argmax(voiced[::-1]))) * hop)
    wave = np.concatenate(
        [np.zeros(pad, np.float32), synth.waveform[first:last], np.zeros(pad, np.float32)]
    )

    def shift(s: int) -> int:
        return min(max(s - first, 0) + pad, len(wave))

    words = [replace(w, start_sample=shift(w.start_sample)) for w in synth.words]
    return Synthesis(wave, synth.sample_rate, words, [shift(s) for s in synth.clause_ends])


def speak(
    text: str, voice: str, rate: int = 175, pitch: int = 50, spaced: bool = True
) -> Synthesis:
    """`text` spoken at 16 kHz, leading/trailing silence trimmed, word events snapped to the text
    (`spaced`: the script separates words with spaces; False for Han, Thai...)."""
    synth = trim_silence(resample(engine().synthesize(text, voice, rate, pitch)))
    synth.words = snap_events(text, synth.words, spaced)
    return synth


def _is_break(c: str) -> bool:
    return c.isspace() or unicodedata.category(c)[0] in "PZS"


def snap_events(text: str, words: list[WordEvent], spaced: bool = True) -> list[WordEvent]:
    """Word events that point into the text where a word starts.

    espeak-ng sometimes reports an offset a few characters off (e.g. after a multi-word dictionary
    entry such as English "such as"), and emits zero-length events at some punctuation. Zero-length
    events and events past the text are dropped; in `spaced` text an event that starts inside a
    word moves to the next word start (and takes that word's length).
    """
    out = []
    for w in words:
        i = w.char_start
        if w.char_len <= 0 or i < 0 or i >= len(text) or (_is_break(text[i]) and not spaced):
            continue
        if spaced and (_is_break(text[i]) or (i > 0 and not _is_break(text[i - 1]))):
            j = i
            while j < len(text) and not _is_break(text[j]):
                j += 1
            while j < len(text) and _is_break(text[j]):
                j += 1
            k = j
            while k < len(text) and not _is_break(text[k]):
                k += 1
            if j >= len(text) or any(o.char_start == j for o in out):
                continue
            w = WordEvent(j, k - j, w.start_sample)
        out.append(w)
    return out


@dataclass(frozen=True)
class WordSpan:
    char_start: int
    char_len: int
    start_sample: int
    end_sample: int


def word_spans(synth: Synthesis) -> list[WordSpan]:
    """Each word event's audio span: from its start to the next word's start (or the end of audio),
    with silence (pauses at commas, clause ends) trimmed off both ends of the span."""
    voiced, hop = voiced_frames(synth.waveform, synth.sample_rate)
    n = len(synth.waveform)
    starts = [w.start_sample for w in synth.words]
    spans = []
    for i, w in enumerate(synth.words):
        end = n
        for s in starts[i + 1 :]:  # next event that is later (numbers can share a start)
            if s > w.start_sample:
                end = s
                break
        lo_f, hi_f = w.start_sample // hop, min(len(voiced), -(-end // hop))
        seg = voiced[lo_f:hi_f]
        start, stop = w.start_sample, end
        if seg.any():
            start = max(w.start_sample, (lo_f + int(np.argmax(seg))) * hop)
            stop = min(end, (hi_f - int(np.argmax(seg[::-1]))) * hop)
        spans.append(WordSpan(w.char_start, w.char_len, start, max(stop, start + 1)))
    return spans
