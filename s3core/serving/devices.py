"""Where models run: the torch device and dtype a config's `device` and `dtype` keys name (`auto` = CUDA with
bfloat16 when there is a GPU, else the CPU in float32). A leaf module: generation, retrieval and training share it."""

from __future__ import annotations

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(name: str) -> torch.device:
    """`auto` means CUDA when there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """`auto` = bfloat16 on CUDA (when supported), float32 on CPU."""
    if name != "auto":
        return DTYPES[name]
    return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
