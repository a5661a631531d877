"""Trajectory: the recorded states of a batch of runs of one system, with status per run.

Arrays carry a leading batch axis B (1 for a single run) and a record axis N. Records past the
end of a run are padding: ``valid`` is False there, times and losses are NaN and the params
repeat the final state. ``t`` is flow time; for maps t = k eta and ``k`` is the iteration.

Statuses (``Status``) and the statistics schema (``STATS_KEYS``) are defined in ``status.py``.
``steps`` is the number of state updates: accepted solver steps (flows) or iterations (maps).
``tracked`` holds the observables sampled along the runs (``simulate(..., track=Track(...))``),
one ``Tracked`` per name, with their own sample times.

``params_stride`` s: the parameters are kept at every s-th record only (``SaveAt.params_every``
of maps): ``params`` holds records 0, s, 2s, ... of the record axis, (N - 1) // s + 1 of them,
at times ``params_t`` and validity ``params_valid``; s = 1 (the default): at every record.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import numpy as np

from .errors import InputError
from .problem import Params, Problem
from .status import Status


@dataclasses.dataclass(frozen=True)
class Tracked:
    """An observable sampled along each run (``dlnflow.observables``): ``times`` (B, M) flow time
    (maps: t = k eta, and ``iterations`` (B, M) the iteration k; None for flows), ``values``
    (B, M, ...). Samples past the end of a run are padding: NaN times, iterations and values."""

    times: np.ndarray
    values: np.ndarray
    iterations: np.ndarray | None = None

    @property
    def valid(self) -> np.ndarray:
        """(B, M) bool: True at real samples, False at padding."""
        return np.isfinite(self.times)

    def run(self, i: int) -> Tracked:
        """The samples of run i alone (batch axis of length 1 kept), padding trimmed."""
        sl = (slice(i, i + 1), slice(0, int(self.valid[i].sum())))
        return Tracked(self.times[sl], self.values[sl],
                       None if self.iterations is None else self.iterations[sl])

    @classmethod
    def concatenate(cls, parts: list[Tracked]) -> Tracked:
        """The runs of ``parts`` as one batch, padded with NaN to the longest."""
        M = max(p.times.shape[1] for p in parts)

        def pad(a: np.ndarray) -> np.ndarray:
            width = [(0, 0), (0, M - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
            return np.pad(np.asarray(a, dtype=float), width, constant_values=np.nan)

        its = None if parts[0].iterations is None else np.concatenate(
            [pad(cast(np.ndarray, p.iterations)) for p in parts])
        return cls(np.concatenate([pad(p.times) for p in parts]),
                   np.concatenate([pad(p.values) for p in parts]), its)


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Recorded runs: t (B, N), loss (B, N), params tuple of (B, N, d_l, d_(l-1)), finals (B,)."""

    problem: Problem
    kind: str                       # "flow" or "map"
    t: np.ndarray                   # (B, N)
    loss: np.ndarray                # (B, N)
    params: Params                  # each (B, M, d_l, d_(l-1)), M = (N - 1) // params_stride + 1
    valid: np.ndarray               # (B, N) bool
    status: list[Status]
    messages: list[str]
    t_final: np.ndarray             # (B,)
    loss_final: np.ndarray          # (B,)
    params_final: Params            # each (B, d_l, d_(l-1))
    steps: np.ndarray               # (B,) accepted solver steps (flows) or iterations (maps)
    stats: dict[str, np.ndarray]    # STATS_KEYS -> (B,) counters, -1 where not reported
    metadata: dict[str, Any]
    optimal_loss: float | None = None   # F* of the problem the system trains
    batched: bool = True
    tracked: dict[str, Tracked] = dataclasses.field(default_factory=dict)
    params_stride: int = 1          # params at records 0, s, 2s, ... (SaveAt.params_every)

    @property
    def batch_size(self) -> int:
        """Number of runs B (the leading axis of every record)."""
        return int(self.t.shape[0])

    @property
    def params_t(self) -> np.ndarray:
        """(B, M) times of the parameter records (``t`` itself when params_stride is 1)."""
        return self.t[:, ::self.params_stride]

    @property
    def params_valid(self) -> np.ndarray:
        """(B, M) bool: True at the real parameter records, False at padding."""
        return self.valid[:, ::self.params_stride]

    @property
    def iterations(self) -> np.ndarray:
        """Iterations per run of a map (InputError for a flow: see ``steps`` and ``stats``)."""
        if self.kind != "map":
            raise InputError("a flow has no iterations; its solver steps are in steps and stats")
        return self.steps

    @property
    def excess_loss(self) -> np.ndarray:
        """loss - F* (F* unknown: 0)."""
        return self.loss - (self.optimal_loss or 0.0)

    def run(self, i: int) -> Trajectory:
        """The i-th run alone, trimmed to its valid records (batch axis of length 1 kept)."""
        n = int(self.valid[i].sum())
        sl = (slice(i, i + 1), slice(0, n))
        sp = (slice(i, i + 1), slice(0, -(-n // self.params_stride)))
        return dataclasses.replace(
            self,
            t=self.t[sl], loss=self.loss[sl], valid=self.valid[sl],
            params=tuple(W[sp] for W in self.params),
            status=[self.status[i]], messages=[self.messages[i]],
            t_final=self.t_final[i:i + 1], loss_final=self.loss_final[i:i + 1],
            params_final=tuple(W[i:i + 1] for W in self.params_final),
            steps=self.steps[i:i + 1],
            stats={k: v[i:i + 1] for k, v in self.stats.items()},
            batched=False,
            tracked={k: v.run(i) for k, v in self.tracked.items()},
        )

    @classmethod
    def concatenate(cls, parts: list[Trajectory]) -> Trajectory:
        """The runs of ``parts`` (the same system, solved in chunks) as one batch; records are
        padded to the longest (padding: NaN times and losses, the final state)."""
        s = parts[0].params_stride
        if any(p.params_stride != s for p in parts):
            raise InputError("Trajectory.concatenate needs parts with the same params_stride, "
                             f"got {sorted({p.params_stride for p in parts})}")
        N = max(p.t.shape[1] for p in parts)
        M = (N - 1) // s + 1

        def pad(p: Trajectory):
            k = N - p.t.shape[1]
            nan = np.full((p.batch_size, k), np.nan)
            params = tuple(np.concatenate([np.asarray(R), np.repeat(np.asarray(F)[:, None],
                                                                    M - R.shape[1], 1)], axis=1)
                           for R, F in zip(p.params, p.params_final, strict=True))
            return (np.concatenate([p.t, nan], 1), np.concatenate([p.loss, nan], 1), params,
                    np.concatenate([p.valid, np.zeros((p.batch_size, k), bool)], 1))

        padded = [pad(p) for p in parts]
        first = parts[0]
        return dataclasses.replace(
            first,
            t=np.concatenate([x[0] for x in padded]), loss=np.concatenate([x[1] for x in padded]),
            params=cast(Params, tuple(np.concatenate(ls)
                                      for ls in zip(*[x[2] for x in padded], strict=True))),
            valid=np.concatenate([x[3] for x in padded]),
            status=[s for p in parts for s in p.status],
            messages=[m for p in parts for m in p.messages],
            t_final=np.concatenate([p.t_final for p in parts]),
            loss_final=np.concatenate([p.loss_final for p in parts]),
            params_final=cast(Params, tuple(
                np.concatenate([np.asarray(F) for F in fs])
                for fs in zip(*[p.params_final for p in parts], strict=True))),
            steps=np.concatenate([p.steps for p in parts]),
            stats={k: np.concatenate([p.stats[k] for p in parts]) for k in first.stats},
            tracked={k: Tracked.concatenate([p.tracked[k] for p in parts])
                     for k in first.tracked},
        )

    def scalar_weights(self) -> np.ndarray:
        """Scalar chains: weights as an array (B, M, L) (M = N unless params_stride > 1)."""
        return np.stack([W[..., 0, 0] for W in self.params], axis=-1)

    def end_to_end(self) -> np.ndarray:
        """End-to-end matrices (B, M, d_L, d_0) along the parameter records."""
        return np.asarray(self.problem.end_to_end(self.params))

    def summary(self) -> dict[str, Any]:
        """Per-run results as plain lists (JSON-ready)."""
        return {
            "status": [str(s) for s in self.status],
            "t_final": self.t_final.tolist(),
            "loss_final": self.loss_final.tolist(),
            "steps": self.steps.astype(int).tolist(),
            "messages": list(self.messages),
            "stats": {k: np.asarray(v).astype(int).tolist() for k, v in self.stats.items()},
        }

    def __repr__(self) -> str:
        counts = {str(s): self.status.count(s) for s in Status if s in self.status}
        return (f"Trajectory(kind={self.kind!r}, runs={self.batch_size}, "
                f"records={self.t.shape[1]}, status={counts})")
