"""The behaviour model's networks (PyTorch), and the one graph that is exported to ONNX.

``BehaviourNet`` takes one window: its usable segments' feature vectors (``segments`` [N, 34],
``haechi.risk.features.FEATURE_NAMES``) and its window features (``window`` [1, 21],
``WINDOW_NAMES``), and computes, in this order:

1. the AutoEncoder's reconstruction error of every segment (trained on people only), as
   ``log(mean squared error + 1e-6)`` over robustly standardised features;
2. the window's input vector (``INPUT_NAMES``): mean and std of each segment feature over the
   window, mean/max/std of the segments' log errors, and the window features;
3. the two heads on that vector, standardised: ``behaviour`` (how the segments look and are
   timed, the AutoEncoder's view included) and ``structure`` (what happens around them: clicks,
   pauses, slips, Fitts's law; and whether the moves step along the screen axes the way a
   mouse's counts do); each gives a logit, higher = more bot-like. Each head is an ensemble
   (``HeadStack``): ``MEMBERS`` copies trained from different seeds, their logits averaged, so
   that one seed's luck does not decide where the people's tail lies.

The ``mask`` input ([R, G], one row per question) blanks groups of inputs (``GROUPS``) to
their human median before the heads; row 0 is all zeros (nothing blanked). One run answers
"what is the score" and "what would it be without each group", which names the reasons.
Outputs: ``logits`` [R, 2] and ``ae`` [1] (the window's mean log error, the AutoEncoder alone).
"""

from __future__ import annotations

import itertools
import warnings
from typing import Final

import numpy as np
import numpy.typing as npt

# The train extra may be absent where mypy runs (CI installs haechi without it): the ignores
# below keep the module type-clean either way.
import torch  # type: ignore[import-not-found, unused-ignore]
from torch import nn  # type: ignore[import-not-found, unused-ignore]

from haechi.risk.features import FEATURE_NAMES, N_FEATURES, N_WINDOW, WINDOW_NAMES

CLIP: Final = 8.0
AE_NAMES: Final = ("ae_mean", "ae_max", "ae_std")
INPUT_NAMES: Final = (
    *(f"mean:{n}" for n in FEATURE_NAMES),
    *(f"std:{n}" for n in FEATURE_NAMES),
    *(f"ae:{n}" for n in AE_NAMES),
    *(f"window:{n}" for n in WINDOW_NAMES),
)
N_INPUTS: Final = len(INPUT_NAMES)
HEADS: Final = ("behaviour", "structure")
MEMBERS: Final = 5  # seeds per head (``HeadStack``)

_SHAPE: Final = (
    "path_px_log", "chord_px_log", "straightness", "deviation", "overshoot", "turn_mean",
    "turn_std", "turn_flips", "curvature_mean_log", "curvature_median_log", "step_cv",
)  # fmt: skip
_SPEED: Final = (
    "duration_ms_log", "speed_mean_log", "speed_max_log", "speed_cv", "speed_peak_at", "t90",
    "acc_mean_log", "acc_std_log", "acc_max_log", "acc_flips", "jerk_mean_log", "jerk_std_log",
)  # fmt: skip
_TIMING: Final = (
    "steps_log", "dt_median_log", "dt_cv", "dt_regular", "dt_max_ratio_log", "still_share",
    "hesitation_share",
)  # fmt: skip
_CLICKS: Final = ("drag", "ends_in_click", "dwell_log")
_RHYTHM: Final = ("pause_before_log",)
_W_CLICKS: Final = (
    "clicks_per_s_log", "click_slip", "hover_mean", "hover_std", "dwell_mean", "dwell_std",
    "idle_mean", "idle_std", "click_end_share", "approaches_log",
)  # fmt: skip
_W_PIXEL: Final = ("axis_steps", "axis_pairs")
_W_REPEAT: Final = (
    "pause_twins", "step_repeat", "step_run_log",  # since v5
    "step_vocab_log", "step_entropy",  # since v6
)  # fmt: skip
_W_SPEED: Final = ("speed_ratio", "acc_ratio")  # since v5
_W_RHYTHM: Final = (
    "segments_log", "usable_log", "usable_share", "pause_share", "fitts_slope",
    "fitts_residual", "peak_slope", "peak_residual", "resume_step_log",
)  # fmt: skip


def _seg(names: tuple[str, ...]) -> list[str]:
    return [f"{agg}:{n}" for n in names for agg in ("mean", "std")]


# Reason groups: every input belongs to exactly one (checked at import).
GROUPS: Final[dict[str, list[str]]] = {
    "model:path-shape": _seg(_SHAPE),
    "model:speed-profile": _seg(_SPEED) + [f"window:{n}" for n in _W_SPEED],
    "model:repetition": [f"window:{n}" for n in _W_REPEAT],
    "model:timing": _seg(_TIMING),
    "model:clicks": _seg(_CLICKS) + [f"window:{n}" for n in _W_CLICKS],
    "model:rhythm": _seg(_RHYTHM) + [f"window:{n}" for n in _W_RHYTHM],
    "model:unlike-people": [f"ae:{n}" for n in AE_NAMES],
    "model:pixel-steps": [f"window:{n}" for n in _W_PIXEL],
}
assert sorted(n for names in GROUPS.values() for n in names) == sorted(INPUT_NAMES), (
    "one group each"
)

# What each head sees. The structure head is kept to what happens around the movements, so it
# cannot lean on how the paths look (the behaviour head's job) and must learn the rest.
_STRUCTURE_SEG: Final = ("drag", "ends_in_click", "chord_px_log", "pause_before_log", "dwell_log")
# Speed, acceleration and jerk *levels* (px/s) change with a screen's size and pixel ratio and
# with a person's task; the behaviour head sees their spreads (scale-free in log) and the
# window's ratios instead (since v5, issue 18).
_LEVELS: Final = tuple(
    f"mean:{n}"
    for n in (
        "speed_mean_log", "speed_max_log", "acc_mean_log", "acc_std_log", "acc_max_log",
        "jerk_mean_log", "jerk_std_log",
    )
)  # fmt: skip


def head_inputs(*, use_ae: bool) -> dict[str, list[str]]:
    behaviour = [
        n
        for n in INPUT_NAMES
        if not n.startswith("window:") and n not in _LEVELS and (use_ae or not n.startswith("ae:"))
    ]
    behaviour += ["window:usable_log"] + [f"window:{n}" for n in (*_W_REPEAT, *_W_SPEED)]
    return {
        "behaviour": behaviour,
        "structure": [f"window:{n}" for n in WINDOW_NAMES]
        + [f"mean:{n}" for n in _STRUCTURE_SEG]
        + ["std:chord_px_log", "std:pause_before_log"],
    }


HEAD_INPUTS: dict[str, list[str]] = head_inputs(use_ae=True)


def set_use_ae(use_ae: bool) -> None:
    """Choose the behaviour head's inputs (with or without the AutoEncoder's errors) before a
    ``BehaviourNet`` is built."""
    HEAD_INPUTS.clear()
    HEAD_INPUTS.update(head_inputs(use_ae=use_ae))


def group_matrix() -> npt.NDArray[np.float32]:
    """(G, N_INPUTS): 1 where an input belongs to a group."""
    out = np.zeros((len(GROUPS), N_INPUTS), np.float32)
    for g, names in enumerate(GROUPS.values()):
        out[g, [INPUT_NAMES.index(n) for n in names]] = 1.0
    return out


def occlusion_masks() -> npt.NDArray[np.float32]:
    """(G + 1, G): row 0 blanks nothing, row g + 1 blanks group g."""
    g = len(GROUPS)
    return np.concatenate([np.zeros((1, g)), np.eye(g)]).astype(np.float32)


class AutoEncoder(nn.Module):  # type: ignore[misc, unused-ignore]
    def __init__(self, n_in: int = N_FEATURES, hidden: int = 64, code: int = 8) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, code),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Linear(code, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, n_in),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.decoder(self.encoder(z))
        return out


HEAD_WIDTHS: Final = (32, 16)  # a head's hidden layers (``Head``, ``HeadStack``)


def _head_shapes(n_in: int) -> list[tuple[int, int]]:
    """(inputs, outputs) of each of a head's linear layers."""
    widths = (n_in, *HEAD_WIDTHS, 1)
    return list(itertools.pairwise(widths))


class Head(nn.Module):  # type: ignore[misc, unused-ignore]
    """A small MLP from a standardised input vector to one logit (bot = positive)."""

    def __init__(self, n_in: int, dropout: float = 0.1) -> None:
        super().__init__()
        (a, h1), (_, h2), (_, out) = _head_shapes(n_in)
        self.net = nn.Sequential(
            nn.Linear(a, h1), nn.GELU(), nn.Dropout(dropout), nn.Linear(h1, h2),
            nn.GELU(), nn.Linear(h2, out),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(z)[:, 0]
        return out


class HeadStack(nn.Module):  # type: ignore[misc, unused-ignore]
    """Several trained ``Head``s of one shape as batched weights: the mean of their logits.

    One batched matrix product per layer serves every member, so the exported graph has as many
    nodes as one head (ONNX Runtime's cost here is per node, not per multiply). Built from heads
    in eval mode (dropout is off at inference)."""

    def __init__(self, n_in: int, members: int = MEMBERS) -> None:
        super().__init__()
        shapes = _head_shapes(n_in)
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.zeros(members, a, b)) for a, b in shapes]
        )
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(members, 1, b)) for _, b in shapes]
        )

    @classmethod
    def pack(cls, heads: list[Head]) -> HeadStack:
        linears = [[m for m in h.net if isinstance(m, nn.Linear)] for h in heads]
        stack = cls(linears[0][0].in_features, len(heads))
        with torch.no_grad():
            for layer in range(len(stack.weights)):
                w = torch.stack([lin[layer].weight.T for lin in linears])
                b = torch.stack([lin[layer].bias.reshape(1, -1) for lin in linears])
                stack.weights[layer].copy_(w)
                stack.biases[layer].copy_(b)
        return stack

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z.unsqueeze(0)  # [1, R, n] against [K, n, 32]: every member at once
        last = len(self.weights) - 1
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.matmul(h, w) + b
            if layer < last:
                h = torch.nn.functional.gelu(h)
        out: torch.Tensor = h[:, :, 0].mean(dim=0)
        return out


def _buffer(values: npt.ArrayLike, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values), dtype=dtype)


class BehaviourNet(nn.Module):  # type: ignore[misc, unused-ignore]
    """Segments + window features -> per-head logits (see the module docstring)."""

    seg_center: torch.Tensor
    seg_scale: torch.Tensor
    in_center: torch.Tensor
    in_scale: torch.Tensor
    groups: torch.Tensor

    def __init__(
        self,
        ae: AutoEncoder,
        seg_center: npt.ArrayLike,
        seg_scale: npt.ArrayLike,
        in_center: npt.ArrayLike | None = None,
        in_scale: npt.ArrayLike | None = None,
    ) -> None:
        super().__init__()
        self.ae = ae
        self.register_buffer("seg_center", _buffer(seg_center))
        self.register_buffer("seg_scale", _buffer(seg_scale))
        self.register_buffer(
            "in_center", _buffer(np.zeros(N_INPUTS) if in_center is None else in_center)
        )
        self.register_buffer(
            "in_scale", _buffer(np.ones(N_INPUTS) if in_scale is None else in_scale)
        )
        self.register_buffer("groups", _buffer(group_matrix()))
        self.heads = nn.ModuleList([HeadStack(len(HEAD_INPUTS[h])) for h in HEADS])
        for h in HEADS:
            self.register_buffer(
                f"cols_{h}", _buffer([INPUT_NAMES.index(n) for n in HEAD_INPUTS[h]], torch.long)
            )

    def segment_errors(self, segments: torch.Tensor) -> torch.Tensor:
        """log(mean squared reconstruction error + 1e-6) per segment."""
        z = torch.clamp((segments - self.seg_center) / self.seg_scale, -CLIP, CLIP)
        return torch.log(((self.ae(z) - z) ** 2).mean(dim=1) + 1e-6)

    def inputs(self, segments: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """The raw input vector [1, N_INPUTS] of one window (at least one segment)."""
        err = self.segment_errors(segments)
        mean = segments.mean(dim=0, keepdim=True)
        std = torch.sqrt(((segments - mean) ** 2).mean(dim=0, keepdim=True))
        e_mean = err.mean()
        e_std = torch.sqrt(((err - e_mean) ** 2).mean())
        ae = torch.stack([e_mean, err.max(), e_std]).reshape(1, 3)
        return torch.cat([mean, std, ae, window], dim=1)

    def standardise(self, v: torch.Tensor) -> torch.Tensor:
        return torch.clamp((v - self.in_center) / self.in_scale, -CLIP, CLIP)

    def head_logits(self, z: torch.Tensor) -> torch.Tensor:
        """[R, N_INPUTS] standardised -> [R, len(HEADS)] logits."""
        cols = [getattr(self, f"cols_{h}") for h in HEADS]
        return torch.stack(
            [head(torch.index_select(z, 1, c)) for head, c in zip(self.heads, cols, strict=True)],
            dim=1,
        )

    def forward(
        self, segments: torch.Tensor, window: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.inputs(segments, window)
        z = self.standardise(v) * (1.0 - mask @ self.groups)  # blanked = the human median
        return self.head_logits(z), v[:, N_FEATURES * 2].reshape(1)


def export(net: BehaviourNet, path: str, segments: npt.NDArray[np.float32]) -> None:
    """Write ``net`` as ONNX and check onnxruntime gives what PyTorch gives on ``segments``."""
    import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]

    net.eval()
    window = np.zeros((1, N_WINDOW), np.float32)
    mask = occlusion_masks()
    args = (torch.from_numpy(segments), torch.from_numpy(window), torch.from_numpy(mask))
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated; it is the one that gives a plain opset-17
        # graph from this model without extra packages (onnxscript).
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net,
            args,
            path,
            input_names=["segments", "window", "mask"],
            output_names=["logits", "ae"],
            dynamic_axes={"segments": {0: "segments"}, "mask": {0: "rows"}, "logits": {0: "rows"}},
            opset_version=17,
            dynamo=False,
        )
    with torch.no_grad():
        want = [t.numpy() for t in net(*args)]
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(["logits", "ae"], {"segments": segments, "window": window, "mask": mask})
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
