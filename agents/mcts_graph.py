"""A batched search captured once as a CUDA graph and replayed for every move (GPU self-play).

Why: at B = 1024, a Go 9x9 search of 32 simulations is tens of thousands of small kernels
(descent, one game step and one network call per simulation), so eager self-play on a GPU
is bound by kernel launches, not by the network. A CUDA graph replays all of them with one
launch. What a captured search needs, and what this module arranges:

- no host syncs: the fixed-depth descent (``MCTSConfig.sync_free``, forced on here) and the
  games' sync-free step (``envs.core.capturing``);
- no random numbers inside: the Gumbel noise is drawn outside and fed in (``search(gumbel=)``),
  so only the Gumbel root rule is supported (PUCT samples Dirichlet noise and visits);
- fixed shapes and addresses: the batch and the network stay the same; the network's weights
  may change in place (an optimizer step, ``load_state_dict``), which the graph then sees.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from agents.mcts import Evaluator, MCTSConfig, SearchOutput, search
from agents.selection import gumbel_noise
from envs import core
from envs.core import Game


class GraphedSearch:
    """``search(game, state, evaluate, cfg, explore)`` as a CUDA graph for one batch shape.

    Args:
        game: the rules (their unchecked step must be sync-free under ``core.capturing``).
        evaluate: the network evaluator (``mcts.network_evaluator``), eval mode.
        cfg: search settings; ``algorithm`` must be ``"gumbel"``.
        state: an example batched state on a CUDA device: fixes B and the device.
        explore: bool or bool ``[B]``, as in :func:`agents.mcts.search`.
        warmup: eager runs of the very path to capture before capturing it.
    """

    def __init__(self, game: Game, evaluate: Evaluator, cfg: MCTSConfig, state: Any,
                 explore: bool | torch.Tensor = True, warmup: int = 2) -> None:
        if cfg.algorithm != "gumbel":
            raise ValueError("a CUDA-graph search needs the Gumbel root (PUCT samples inside the search)")
        device = state.legal_action_mask.device
        if device.type != "cuda":
            raise ValueError(f"a CUDA-graph search needs a CUDA state, this one is on {device}")
        B, A = state.legal_action_mask.shape
        self.cfg = dataclasses.replace(cfg, sync_free=True)
        self.state = core.static_copy(state)
        self.gumbel = torch.zeros(B, A, device=device)
        self.explore = torch.as_tensor(explore, device=device).expand(B).clone()

        def run() -> SearchOutput:
            return search(game, self.state, evaluate, self.cfg, explore=self.explore, gumbel=self.gumbel)

        self.graph, self.out = core.capture(run, warmup, device)
        self.batch = B

    def __call__(self, state: Any, generator: torch.Generator | None = None) -> SearchOutput:
        """Search ``state`` (same batch size and device): copy it in, draw the root noise with
        ``generator``, replay. Outputs are copies; ``tree`` is the graph's own (overwritten by
        the next call)."""
        if state.legal_action_mask.shape[0] != self.batch:
            raise ValueError(f"this graph searches batches of {self.batch}, got {state.legal_action_mask.shape[0]}")
        for f in dataclasses.fields(state):
            getattr(self.state, f.name).copy_(getattr(state, f.name))
        self.gumbel.copy_(gumbel_noise(self.gumbel, generator))
        self.graph.replay()
        out = self.out
        return SearchOutput(out.action.clone(), out.policy.clone(), out.value.clone(), out.visits.clone(), out.tree)

