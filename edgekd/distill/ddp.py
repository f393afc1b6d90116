"""DistributedDataParallel set-up from torchrun's environment: gloo on CPU, nccl on CUDA, rank 0 writes."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class World:
    """This process's place in the job; ``size`` 1 means no distribution."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def init_world(device: str = "auto") -> World:
    """Join the process group that torchrun describes (WORLD_SIZE > 1), else a single-process world.

    ``device``: "auto" (CUDA when available), "cpu" or "cuda".
    """
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    size = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return World(rank=rank, size=size, local_rank=local, device=dev)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def sync_buffers(module: nn.Module, world: World) -> None:
    """Copy rank 0's buffers (batch-norm statistics) to every rank, so all ranks evaluate the same model."""
    if world.distributed:
        for buf in module.buffers():
            dist.broadcast(buf.data, 0)


def broadcast_flag(value: bool, world: World) -> bool:
    """Rank 0's ``value`` on every rank."""
    if not world.distributed:
        return value
    t = torch.tensor([int(value)], device=world.device)
    dist.broadcast(t, 0)
    return bool(t.item())


def close_world(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
