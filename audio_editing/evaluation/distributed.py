"""Sharding a batch evaluation over the processes ``torchrun`` starts.

Each rank edits its own share of the clips as an ordinary single process. SpeechBrain's
``Brain`` reads a torchrun launch as DDP training of one model (it would write checkpoints
and logs on rank 0 only and broadcast at every save), so the launcher's rank variables are
hidden from it while a rank edits; the gloo process group is joined only afterwards, for the
barrier before rank 0 merges the results. A plain ``python`` run is one shard of one.
"""

import datetime
import os
from contextlib import contextmanager
from dataclasses import dataclass
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
        """Wait for every rank, joining the gloo group (``MASTER_ADDR``/``MASTER_PORT``) on first use."""
        if not self.distributed:
            return
        if not dist.is_initialized():
            dist.init_process_group("gloo", rank=self.rank, world_size=self.world_size, timeout=BARRIER_TIMEOUT)
        dist.barrier()

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
