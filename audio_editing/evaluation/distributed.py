"""Sharding a batch evaluation over the processes ``torchrun`` starts.

Each rank edits its own share of the clips as an ordinary single process. SpeechBrain's
``Brain`` reads a torchrun launch as DDP training of one model (it would write checkpoints
and logs on rank 0 only and broadcast at every save), so the launcher's rank variables are
hidden from it while a rank edits, and no process group is ever joined (SpeechBrain reads an
initialised one the same way, so an edit after a barrier would fail): the barriers before rank 0
merges results go through the launcher's key-value store instead. A plain ``python`` run is one
shard of one.
"""

import datetime
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import List

import torch
import torch.distributed as dist

RANK_VARIABLES = ("RANK", "LOCAL_RANK")  # what makes SpeechBrain's Brain expect DDP
BARRIER_TIMEOUT = datetime.timedelta(days=7)  # a rank may finish its clips hours before the others


@dataclass
class Shard:
    """This process's place in the launch: clip ``i`` of the manifest belongs to rank ``i % world_size``.

    Example
    -------
    >>> shard = Shard(rank=1, world_size=2)
    >>> [i for i in range(5) if shard.owns(i)]
    [1, 3]
    >>> Shard(rank=1, world_size=2, local_rank=1).device_args(["--device=cuda", "--emb_steps=5"])
    ['--device=cuda:1', '--emb_steps=5']
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    _store: object = field(default=None, repr=False, compare=False)  # the launcher's store, on first barrier
    _barriers: int = field(default=0, repr=False, compare=False)  # barriers passed: each one's key

    @classmethod
    def from_env(cls) -> "Shard":
        """Read ``torchrun``'s variables (absent: a single process)."""
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def owns(self, clip_index: int) -> bool:
        # Fixed by the clip's place in the manifest, not by what is done yet: ranks that start
        # at different moments of a resumed run still agree on who edits what.
        return clip_index % self.world_size == self.rank

    def device_args(self, edit_args: List[str]) -> List[str]:
        """One GPU per rank: ``--device=cuda`` (or none on a GPU machine) becomes ``cuda:<local rank>``."""
        if not self.distributed:
            return list(edit_args)
        device = f"--device=cuda:{self.local_rank}"
        args = [device if arg == "--device=cuda" else arg for arg in edit_args]
        if torch.cuda.is_available() and not any(arg.startswith("--device") for arg in args):
            args.append(device)
        return args

    @contextmanager
    def editing(self):
        """Run the block with the launcher's rank variables hidden (each edit is a single process)."""
        saved = {key: os.environ.pop(key) for key in RANK_VARIABLES if key in os.environ}
        try:
            yield
        finally:
            os.environ.update(saved)

    def barrier(self) -> None:
        """Wait for every rank. Ranks count themselves in under one key per barrier in torchrun's store
        (``MASTER_ADDR``/``MASTER_PORT``); the last one in opens it. Every rank passes the same barriers
        in the same order, so the n-th barrier has the same key on each."""
        if not self.distributed:
            return
        if self._store is None:
            self._store = launcher_store(self.rank, self.world_size)
        self._barriers += 1
        key = f"audio_editing/barrier{self._barriers}"
        if self._store.add(key, 1) == self.world_size:
            self._store.set(f"{key}/open", "1")
        self._store.wait([f"{key}/open"], BARRIER_TIMEOUT)

    def close(self) -> None:
        self._store = None


def launcher_store(rank: int, world_size: int):
    """A client of the store torchrun's agent serves (or, under a launcher without one, the store rank 0
    serves), as ``init_process_group``'s ``env://`` would open it."""
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size,
                          is_master=not agent and rank == 0, timeout=BARRIER_TIMEOUT)
    return dist.PrefixStore(f"/audio_editing/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)
