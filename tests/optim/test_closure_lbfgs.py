"""nst_tf.optim.closure_lbfgs against torch.optim.LBFGS itself: the same closure calls, the same points."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: E402  (a hard requirement: requirements.txt)

from nst_tf.optim.closure_lbfgs import closure_calls


def _problem(seed: int = 0):
    """A curved cost whose minimum lies partly outside [0, 1], so the clamp inside the closure matters."""
    rng = np.random.default_rng(seed)
    target = rng.uniform(-0.5, 1.5, size=(1, 4, 5, 3))
    weights = rng.uniform(0.5, 3.0, size=target.shape)
    start = rng.uniform(0.0, 1.0, size=target.shape)
    return target, weights, start


def test_the_port_follows_torch_lbfgs_call_by_call():
    target, weights, start = _problem()

    def evaluate(pixels):
        diff = pixels - target
        total = float(np.sum(weights * diff**2 + 0.1 * diff**4))
        return {"total": total, "content": total, "style": 0.0, "tv": 0.0}, 2 * weights * diff + 0.4 * diff**3

    ours = list(closure_calls(evaluate, start, 45, 1.0))

    # The tutorial's loop, verbatim in spirit: clamp inside the closure, count the calls.
    picture = torch.tensor(start, requires_grad=True)
    optimizer = torch.optim.LBFGS([picture])
    seen: list[tuple[np.ndarray, float]] = []

    def closure():
        with torch.no_grad():
            picture.clamp_(0, 1)
        optimizer.zero_grad()
        diff = picture - torch.tensor(target)
        loss = torch.sum(torch.tensor(weights) * diff**2 + 0.1 * diff**4)
        loss.backward()
        seen.append((picture.detach().numpy().copy(), float(loss.detach())))
        return loss

    while len(seen) < 45:
        optimizer.step(closure)
    assert [count for _, _, count in ours] == list(range(1, 46))
    for i, ((x, costs, _), (expected_x, expected_loss)) in enumerate(zip(ours, seen[:45], strict=True)):
        np.testing.assert_allclose(x, expected_x, rtol=1e-9, atol=1e-12, err_msg=f"call {i}")
        assert costs["total"] == pytest.approx(expected_loss, rel=1e-9), i
    assert ours[-1][1]["total"] < 0.5 * ours[0][1]["total"]
    assert min(x.min() for x, _, _ in ours) >= 0.0 and max(x.max() for x, _, _ in ours) <= 1.0
