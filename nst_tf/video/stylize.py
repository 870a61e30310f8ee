"""The video entry: `stylize_video(frames, route)`, a generator of one `nst_tf.records.Step` per frame.

A route is any callable `route(frame, start) -> stylized` on (1, H, W, 3) pictures in [0, 1]; `start` is the
previous result warped into this frame (None for the first frame and without temporal consistency), which
the optimisation route starts from (it says so with a true `needs_start` attribute, and is then called as
`route(frame, start, mask)` with the flow's softened reliable mask, for its temporal cost) and the one-pass
routes ignore (their flow is computed in a worker thread while they stylize); a route's `reset()`, if it has
one, is called as the clip begins, and a false `blend_after` attribute turns the blend below off for it.
`nst_tf.video.routes` makes the three
(a per-style network, universal WCT/AdaIN, the optimisation). With `temporal=True` every frame after the first
is blended with the previous result along the flow of the input frames (`nst_tf.video.temporal`).

Each Step carries the stylized frame in `image` and in `info` the frame's index, the share of its pixels
the flow found reliable, and the seconds spent stylizing (`stylize_seconds`) and on the flow
(`flow_seconds`); `seconds` is the wall time since the first frame began; `costs` are the route's
`last_costs` if it keeps them (the optimisation route: its frame's last step's, "temporal" among them).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from nst_tf.records import Step
from nst_tf.video.flow import warp
from nst_tf.video.temporal import DEFAULT_WEIGHT, frame_pair, soften, temporal_blend

Route = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]


def stylize_video(
    frames: Iterable[np.ndarray], route: Route, temporal: bool = True, weight: float = DEFAULT_WEIGHT
) -> Iterator[Step]:
    """Stylize a stream of frames, one Step per frame (module doc).

    Args:
        frames: (1, H, W, 3) float32 RGB in [0, 1], all of one size.
        route: the per-frame stylization (see `nst_tf.video.routes`).
        temporal: blend each frame with the previous result warped by the input's flow.
        weight: the previous result's share where the flow is reliable, in [0, 1).

    Yields:
        Step(iteration=index, costs={}, seconds, image=(1, H, W, 3) float32, info={...}).
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"the temporal weight must be in [0, 1), not {weight}")
    needs_start = bool(getattr(route, "needs_start", False))
    blend = bool(getattr(route, "blend_after", True))
    if callable(reset := getattr(route, "reset", None)):
        reset()  # a route that keeps state across frames starts the clip afresh
    began = time.perf_counter()
    previous_in = previous_out = None
    # The flow runs in a worker thread while a one-pass route stylizes (OpenCV and TensorFlow both release the
    # GIL); a route that starts from the warped result (needs_start) waits for it.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="nst-flow") as pool:
        for index, frame in enumerate(frames):
            pending = None
            if temporal and previous_in is not None:
                pending = pool.submit(_warped_previous, frame, previous_in, previous_out)
            start, mask, flow_seconds = pending.result() if pending and needs_start else (None, None, 0.0)
            clock = time.perf_counter()
            stylized = np.asarray(route(frame, start, mask) if needs_start else route(frame, start), np.float32)
            stylize_seconds = time.perf_counter() - clock
            if stylized.shape != frame.shape:
                raise ValueError(f"the route made a {stylized.shape} frame from a {frame.shape} one")
            if pending is not None and start is None:
                start, mask, flow_seconds = pending.result()
            if start is None or not blend:
                output = stylized
            else:
                output = np.clip(temporal_blend(stylized, start, mask, weight), 0, 1)
            info = {
                "frame": index,
                "reliable": round(float(mask.mean()), 4) if mask is not None else 0.0,
                "stylize_seconds": round(stylize_seconds, 4),
                "flow_seconds": round(flow_seconds, 4),
            }
            costs = dict(getattr(route, "last_costs", {}))  # the optimisation route's last step's
            yield Step(index, costs, time.perf_counter() - began, image=output, info=info)
            previous_in, previous_out = frame, output


def _warped_previous(frame: np.ndarray, previous_in: np.ndarray, previous_out: np.ndarray):
    """(previous result warped into this frame, softened reliable mask, seconds) from the input's flow."""
    clock = time.perf_counter()
    backward, mask = frame_pair(frame, previous_in)
    return warp(previous_out, backward, "cubic"), soften(mask), time.perf_counter() - clock
