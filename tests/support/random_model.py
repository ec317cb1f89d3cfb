"""Write a randomly initialised CLIP checkpoint to disk, loadable with `from_pretrained`.

Used by the tests (tiny model), the benchmarks (ViT-B/32's exact shape and cost) and the demo
when real weights cannot be fetched. The tokenizer is a genuine byte-level BPE with CLIP's
special tokens and a small merge table, so no vocabulary download is needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

TINY = "tiny"
VIT_B_32 = "vit-b-32"


def _bytes_to_unicode() -> dict[int, str]:
    # The GPT-2/CLIP reversible byte-to-printable-character table.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def _vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    chars = list(_bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars]
    merges: list[tuple[str, str]] = []
    # A few common English merges, so words become fewer tokens, as with the real vocabulary.
    for word in ("the", "a", "of", "photo", "and", "in", "on", "with", "video", "scene"):
        left = word[0]
        for i, ch in enumerate(word[1:], start=1):
            right = ch + ("</w>" if i == len(word) - 1 else "")
            merges.append((left, right))
            left = left + right
            tokens.append(left)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab: dict[str, int] = {}
    for tok in tokens:
        vocab.setdefault(tok, len(vocab))
    return vocab, merges


def random_clip(size: str = TINY, seed: int = 0) -> tuple[Any, Any]:
    """An in-memory (CLIPModel, CLIPProcessor) with random weights."""
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPTokenizer,
        CLIPVisionConfig,
    )

    vocab, merges = _vocab_and_merges()
    special = {
        "bos_token_id": vocab["<|startoftext|>"],
        "eos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": vocab["<|endoftext|>"],
    }
    if size == TINY:
        text = CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            **special,
        )
        vision = CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=224,
            patch_size=32,
        )
        config = CLIPConfig(
            text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=64
        )
    elif size == VIT_B_32:
        text = CLIPTextConfig(vocab_size=len(vocab), **special)
        # CLIPVisionConfig() defaults are ViT-B/32: hidden 768, 12 layers, patch 32, 224 px.
        config = CLIPConfig(text_config=text.to_dict(), vision_config=CLIPVisionConfig().to_dict())
    else:
        raise ValueError(f"unknown size {size!r}; use {TINY!r} or {VIT_B_32!r}")
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)
    processor = CLIPProcessor(image_processor=CLIPImageProcessorPil(), tokenizer=tokenizer)
    return model, processor


def write_random_clip(directory: Path, size: str = TINY, seed: int = 0) -> Path:
    """Create config, safetensors weights, processor and tokenizer files in `directory`."""
    model, processor = random_clip(size, seed)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--size", choices=(TINY, VIT_B_32), default=TINY)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_random_clip(args.directory, args.size, args.seed))


if __name__ == "__main__":
    main()
