"""torch.optim.LBFGS's algorithm in NumPy, driven closure call by closure call: the PyTorch tutorial's optimiser.

The tutorial "Neural Transfer Using PyTorch" runs `optim.LBFGS([input_img])` with its defaults (lr 1,
max_iter 20 per `step`, history 100, no line search, tolerance_grad 1e-7, tolerance_change 1e-9) and counts
*closure calls*, not iterations: `while run[0] <= num_steps: optimizer.step(closure)`. Each closure first
clamps the picture to [0, 1] in place (`input_img.clamp_(0, 1)`), then evaluates. SciPy's L-BFGS-B cannot
reproduce that (its bounds keep every point inside, and it keeps its own copy of x), so this module
follows torch/optim/lbfgs.py's non-line-search path operation by operation: the same two-loop recursion,
the same first step min(1, 1/‖g‖₁)·lr, the same stopping tests, its state carried from one `step` call to
the next. Framework-free (NumPy): both backends feed it their cost and gradient (`Evaluate`).

Departures: the arithmetic is float64 here (torch's is the parameter's float32); and the run stops after
exactly `calls` closure calls, where the tutorial's `while run[0] <= 300` finishes the `step` call in which
call 300 falls (up to 319 calls). One yielded point is one closure call: the clamped picture it evaluated,
its costs and the number of calls so far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

# pixels -> ({cost name: value}, d total / d pixels), as nst_tf.optim.lbfgs.Evaluate
Evaluate = Callable[[np.ndarray], tuple[dict[str, float], np.ndarray]]
Closure = Callable[[], tuple[dict[str, float], np.ndarray]]


class TorchLBFGS:
    """torch.optim.LBFGS (line_search_fn=None) on one flat float64 vector, updated in place."""

    def __init__(
        self,
        lr: float = 1.0,
        max_iter: int = 20,
        history_size: int = 100,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
    ) -> None:
        self.lr, self.max_iter, self.history_size = lr, max_iter, history_size
        self.max_eval = max_iter * 5 // 4  # torch's default
        self.tolerance_grad, self.tolerance_change = tolerance_grad, tolerance_change
        self.d: np.ndarray | None = None
        self.t = 0.0
        self.old_dirs: list[np.ndarray] = []
        self.old_stps: list[np.ndarray] = []
        self.ro: list[float] = []
        self.h_diag = 1.0
        self.prev_flat_grad: np.ndarray | None = None
        self.n_iter = 0

    def _direction(self, flat_grad: np.ndarray) -> np.ndarray:
        """The new search direction: steepest descent first, then the two-loop recursion."""
        if self.n_iter == 1:
            self.old_dirs, self.old_stps, self.ro, self.h_diag = [], [], [], 1.0
            return -flat_grad
        y = flat_grad - self.prev_flat_grad
        s = self.d * self.t
        ys = float(y @ s)
        if ys > 1e-10:  # update the memory
            if len(self.old_dirs) == self.history_size:
                self.old_dirs.pop(0), self.old_stps.pop(0), self.ro.pop(0)
            self.old_dirs.append(y), self.old_stps.append(s), self.ro.append(1.0 / ys)
            self.h_diag = ys / float(y @ y)
        alphas = [0.0] * len(self.old_dirs)
        q = -flat_grad
        for i in range(len(self.old_dirs) - 1, -1, -1):
            alphas[i] = float(self.old_stps[i] @ q) * self.ro[i]
            q = q - alphas[i] * self.old_dirs[i]
        r = q * self.h_diag
        for i in range(len(self.old_dirs)):
            beta = float(self.old_dirs[i] @ r) * self.ro[i]
            r = r + (alphas[i] - beta) * self.old_stps[i]
        return r

    def step(self, x: np.ndarray, closure: Closure) -> Iterator[dict[str, float]]:
        """One `optimizer.step(closure)`: moves `x` in place, yielding the costs of each closure call."""
        step_costs, flat_grad = closure()
        yield step_costs
        loss, evaluations = step_costs["total"], 1
        if np.abs(flat_grad).max() <= self.tolerance_grad:
            return
        for n_iter in range(1, self.max_iter + 1):
            self.n_iter += 1
            self.d = self._direction(flat_grad)
            self.prev_flat_grad, prev_loss = flat_grad.copy(), loss
            self.t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * self.lr if self.n_iter == 1 else self.lr
            if float(flat_grad @ self.d) > -self.tolerance_change:
                break
            x += self.t * self.d
            if n_iter == self.max_iter:  # torch moves x but does not evaluate it: the next step() will
                break
            step_costs, flat_grad = closure()
            yield step_costs
            loss, evaluations = step_costs["total"], evaluations + 1
            if self._converged(flat_grad, loss, prev_loss, evaluations):
                break

    def _converged(self, flat_grad: np.ndarray, loss: float, prev_loss: float, evaluations: int) -> bool:
        return (
            evaluations >= self.max_eval
            or np.abs(flat_grad).max() <= self.tolerance_grad
            or np.abs(self.d * self.t).max() <= self.tolerance_change
            or abs(loss - prev_loss) < self.tolerance_change
        )


def closure_calls(
    evaluate: Evaluate, start: np.ndarray, calls: int, upper: float
) -> Iterator[tuple[np.ndarray, dict[str, float], int]]:
    """(the clamped pixels a closure call evaluated, their costs, calls so far), exactly `calls` times.

    Each call clamps the picture to [0, upper] in place before evaluating, as the tutorial's closure does.
    """
    shape = tuple(start.shape)
    x = np.asarray(start, np.float64).ravel().copy()
    optimizer = TorchLBFGS()
    count = 0

    def closure() -> tuple[dict[str, float], np.ndarray]:
        np.clip(x, 0.0, upper, out=x)
        step_costs, gradient = evaluate(x.reshape(shape))
        return step_costs, np.asarray(gradient, np.float64).ravel()

    while True:
        for step_costs in optimizer.step(x, closure):
            count += 1
            yield np.clip(x, 0.0, upper).reshape(shape), step_costs, count
            if count >= calls:
                return
