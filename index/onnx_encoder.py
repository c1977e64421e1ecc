"""A faster path for short batches: the same sentence-transformers model run by onnxruntime.

A question is a dozen word pieces; torch spends most of its ~20 ms per question on small-matrix
overhead, where onnxruntime's fused BERT graph takes ~7 ms on one core (measured on 2 cores,
``bench/retrieval_bench.py``). For large batches (index builds) torch's MKL kernels are faster, so
the embedder keeps both and picks by batch size.

The model is exported once into a cache folder named by a hash of its weights, and every load checks
that onnxruntime reproduces torch's vectors before it is used: a model this module cannot export or
reproduce (another pooling, a custom architecture) simply stays on torch.

Questions can also take an int8 copy of the export (onnxruntime's dynamic quantization, one scale
per output channel): ~1.7x faster again on CPUs with VNNI, at a cosine of ~0.994 to torch's vector.
It is only ever used for queries; stored vectors always come from the float32 model.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

log = logging.getLogger(__name__)

_PROBES = ("How long did the first phase last?", "Ceasefire talks resumed in Cairo on Monday.")
# The largest cosine distance allowed from torch's vector: float32 only reorders sums; int8 weights
# move a MiniLM query vector by ~0.006 (measured), and 0.02 still leaves rankings as they were.
_TOLERANCE = {"float32": 1e-5, "int8": 0.02}


class OnnxEncoder:
    """Mean-pooled, L2-normalised sentence vectors from an onnxruntime session."""

    def __init__(
        self,
        session: Any,
        tokenize: Any,
        normalize: bool,
        *,
        path: Path | None = None,
        tokenizer_json: str | None = None,
    ) -> None:
        self._session = session
        self._tokenize = tokenize
        self._normalize = normalize
        self._inputs = [i.name for i in session.get_inputs()]
        # What index.onnx_cache records to rebuild this encoder without torch.
        self.path = path
        self.tokenizer_json = tokenizer_json

    @property
    def normalize(self) -> bool:
        return self._normalize

    def encode(self, texts: list[str]) -> np.ndarray:
        features = self._tokenize(texts)
        feed = {name: features[name] for name in self._inputs}
        hidden = self._session.run(None, feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        vectors = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if self._normalize:
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_onnx_encoder(
    model: Any,
    cache_dir: Path,
    precision: Literal["float32", "int8"] = "float32",
    threads: int = 1,
) -> OnnxEncoder | None:
    """An ``OnnxEncoder`` for the sentence-transformers ``model``, or None when onnxruntime is
    missing or cannot reproduce the model's own vectors (the caller then stays on torch).
    ``threads``: 1 for queries beside the LLM; index builds use every core."""
    try:
        import onnxruntime
    except ImportError:
        return None
    normalize = _mean_pooled(model)
    if normalize is None:
        return None
    path = _export_path(model, cache_dir)
    target = path.with_name(f"{path.stem}-int8.onnx") if precision == "int8" else path
    for attempt in ("cached", "fresh"):
        try:
            if attempt == "fresh" or not target.is_file():
                target.unlink(missing_ok=True)
                if precision == "float32" or attempt == "fresh" or not path.is_file():
                    path.unlink(missing_ok=True)
                    _write_export(model, path)
                if precision == "int8":
                    _write_int8(path, target)
            encoder = OnnxEncoder(
                _session(onnxruntime, target, threads),
                _tokenizer(model),
                normalize,
                path=target,
                tokenizer_json=_tokenizer_json(model),
            )
            distance = _distance_from_torch(model, encoder, normalize)
        except Exception as exc:
            log.warning("onnxruntime %s path unavailable (%s export): %s", precision, attempt, exc)
            continue
        if distance <= _TOLERANCE[precision]:
            return encoder
        log.warning("onnxruntime %s vectors differ from torch by %.2g", precision, distance)
    return None


def _distance_from_torch(model: Any, encoder: OnnxEncoder, normalize: bool) -> float:
    """The largest cosine distance between the encoder's and torch's vectors of the probes."""
    probes = list(_PROBES)
    expected = model.encode(probes, normalize_embeddings=normalize, convert_to_numpy=True)
    actual = encoder.encode(probes)
    cosine = (actual * expected).sum(axis=1) / (
        np.linalg.norm(actual, axis=1) * np.linalg.norm(expected, axis=1)
    )
    return float(1.0 - cosine.min())


def _mean_pooled(model: Any) -> bool | None:
    """True or False (normalised or not) when ``model`` is transformer + mean pooling
    [+ normalise], the only layout ``OnnxEncoder`` reproduces; None otherwise."""
    modules = [type(module).__name__ for module in model]
    if modules[:2] != ["Transformer", "Pooling"] or modules[2:] not in ([], ["Normalize"]):
        return None
    pooling = model[1]
    mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers 6: one string
    if mode is None:  # earlier releases: one flag per mode
        flags = {k: v for k, v in vars(pooling).items() if k.startswith("pooling_mode_") and v}
        mode = "mean" if list(flags) == ["pooling_mode_mean_tokens"] else None
    if mode != "mean":
        return None
    return modules[2:] == ["Normalize"]


def _tokenizer(model: Any) -> Any:
    """texts -> int64 arrays by input name, as the model's own tokenizer would give them.

    The Rust ``tokenizers`` object is called directly when the model has one: the
    sentence-transformers wrapper around it costs ~1 ms of Python per call, which an HTTP search
    pays on every request. The load-time check against torch catches any difference.
    """
    fast = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    if fast is not None and getattr(model, "max_seq_length", None):
        return _rust_tokenizer(fast, model.tokenizer.pad_token_id or 0, model.max_seq_length)
    preprocess = _preprocess(model)
    return lambda texts: {k: v.numpy().astype(np.int64) for k, v in preprocess(texts).items()}


def _tokenizer_json(model: Any) -> str | None:
    """The Rust tokenizer ``_tokenizer`` calls, configured, as JSON (None without one)."""
    fast = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    if fast is None or not getattr(model, "max_seq_length", None):
        return None
    tokenizer = copy.deepcopy(fast)
    tokenizer.enable_truncation(max_length=model.max_seq_length)
    tokenizer.enable_padding(pad_id=model.tokenizer.pad_token_id or 0)
    return str(tokenizer.to_str())


def _preprocess(model: Any) -> Any:
    """The model's own texts -> torch tensors step."""
    # sentence-transformers 6 renamed ``tokenize`` to ``preprocess`` and warns on the old name.
    return getattr(model, "preprocess", None) or model.tokenize


def _rust_tokenizer(backend: Any, pad_id: int, max_length: int) -> Any:
    tokenizer = copy.deepcopy(backend)  # the model keeps its own settings
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=pad_id)
    return batch_features(tokenizer)


def batch_features(tokenizer: Any) -> Any:
    """The model's inputs for a batch of texts, from a ``tokenizers`` tokenizer set up to
    truncate and pad."""

    def tokenize(texts: list[str]) -> dict[str, np.ndarray]:
        encodings = tokenizer.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

    return tokenize


def _export_path(model: Any, cache_dir: Path) -> Path:
    """Where the export of ``model`` lives: named by its weights and the torch that exported it."""
    import torch

    digest = hashlib.sha256(torch.__version__.encode())
    for name, tensor in model[0].auto_model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return cache_dir / f"encoder-{digest.hexdigest()[:16]}.onnx"


def _write_export(model: Any, path: Path) -> None:
    """Export ``model`` to ``path``, fused where onnxruntime knows the architecture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    transformer = model[0].auto_model
    with tempfile.TemporaryDirectory(dir=path.parent) as work:
        raw = Path(work) / "raw.onnx"
        _export(model, transformer, raw)
        fused = _fuse(raw, transformer.config) or raw
        os.chmod(fused, 0o644)
        os.replace(fused, path)  # atomic: a concurrent loader sees the whole file or none


def _export(model: Any, transformer: Any, target: Path) -> None:
    import torch

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    features = _preprocess(model)(list(_PROBES))
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation notes about the model's code
        torch.onnx.export(
            _Hidden().eval(),
            tuple(features[n] for n in names),
            str(target),
            input_names=names,
            output_names=["hidden"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _fuse(raw: Path, config: Any) -> Path | None:
    """onnxruntime's BERT fusions (attention, GELU, layer norm): ~20% faster when they apply."""
    if getattr(config, "model_type", "") != "bert":
        return None
    try:
        from onnxruntime.transformers import optimizer
    except ImportError:
        return None
    fused = raw.with_name("fused.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimized = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=1,
        )
        optimized.save_model_to_file(str(fused))
    return fused


def _write_int8(source: Path, target: Path) -> None:
    """An int8 copy of the float32 export: weights quantized per output channel, activations
    at run time (no calibration data needed). Per channel: a single scale per tensor moved
    MiniLM vectors to a cosine of ~0.97 to torch's, one per channel keeps ~0.994 (measured)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        quantized = Path(work) / "int8.onnx"
        root, was_disabled = logging.getLogger(), logging.getLogger().disabled
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root.disabled = True  # it logs a pre-processing hint at WARNING on the root logger
            try:
                quantize_dynamic(
                    source,
                    quantized,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    # The fused graph's custom ops defeat its shape inference: say float32.
                    extra_options={"DefaultTensorType": 1},
                )
            finally:
                root.disabled = was_disabled
        os.chmod(quantized, 0o644)
        os.replace(quantized, target)


def _session(onnxruntime: Any, path: Path, threads: int = 1) -> Any:
    options = onnxruntime.SessionOptions()
    # One thread that sleeps when idle: the LLM and the server need the other core, and a spinning
    # pool slows everything sharing the machine (the same reason torch runs on one thread).
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
