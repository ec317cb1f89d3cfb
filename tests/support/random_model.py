"""Write randomly initialised checkpoints to disk, loadable with `from_pretrained`.

Used by the tests (tiny model), the benchmarks (ViT-B/32's exact shape and cost) and the demo
when real weights cannot be fetched; `write_random_model` writes a tiny checkpoint of every
supported family (CLIP, SigLIP, SigLIP2, AltCLIP, Chinese CLIP). Each tokenizer is built here,
of its family's real kind (CLIP's byte-level BPE, SigLIP's unigram, Gemma's byte-fallback BPE,
XLM-R's unigram, BERT's WordPiece) over a small vocabulary, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections.abc import Callable
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


# Words the benchmarks' queries are made of (bench/load.py and bench/search.py take them from
# here). ViT-B/32's random tokenizer makes each one token, as CLIP's real 49,408-token
# vocabulary does for common English words: otherwise a 4-word
# query is about 23 tokens instead of about 6, and the text encoder's cost (about 0.27 ms a
# token with ONNX int8 here) is 4x what a real query costs.
BENCH_WORDS = (
    "office", "beach", "street", "night", "forest", "kitchen", "people", "car", "construction",
    "stadium", "sky", "dog", "cat", "river", "mountain", "crowd", "train", "city", "snow",
    "sunset", "boat", "bird", "children", "playing", "football", "rain", "road", "house",
    "water", "table", "man", "woman", "red", "blue", "green", "white", "black", "scene",
    "desert",
)  # fmt: skip


def _trained_merges(words: list[str]) -> list[tuple[str, str]]:
    """Byte-pair merges learnt from `words` as BPE learns them (the most frequent adjacent pair
    first) until every word is one token; encoding replays them in that order, so each of
    these words comes out as a single token, whatever letters they share."""
    pieces = [[*w[:-1], w[-1] + "</w>"] for w in words]
    merges: list[tuple[str, str]] = []
    while any(len(p) > 1 for p in pieces):
        counts: dict[tuple[str, str], int] = {}
        for p in pieces:
            for pair in itertools.pairwise(p):
                counts[pair] = counts.get(pair, 0) + 1
        best = max(counts, key=counts.__getitem__)  # ties: the pair seen first
        merges.append(best)
        for i, p in enumerate(pieces):
            j, out = 0, []
            while j < len(p):
                if j + 1 < len(p) and (p[j], p[j + 1]) == best:
                    out.append(p[j] + p[j + 1])
                    j += 2
                else:
                    out.append(p[j])
                    j += 1
            pieces[i] = out
    return merges


def _vocab_and_merges(
    whole_words: tuple[str, ...] = (),
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    chars = list(_bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars]
    # A few common English merges, so words become fewer tokens, as with the real vocabulary.
    common = ("the", "a", "of", "photo", "and", "in", "on", "with", "video", "scene")
    if whole_words:
        merges = _trained_merges(list(dict.fromkeys((*common, *whole_words))))
    else:  # the tiny models' long-standing tokenizer: one merge chain per word
        merges = []
        for word in common:
            left = word[0]
            for i, ch in enumerate(word[1:], start=1):
                merges.append((left, ch + ("</w>" if i == len(word) - 1 else "")))
                left = left + merges[-1][1]
    tokens += [a + b for a, b in merges]
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

    vocab, merges = _vocab_and_merges(BENCH_WORDS if size == VIT_B_32 else ())
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


# ---- the other families: tiny sizes only, each with a tokenizer of its real kind -------------

LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789")
WORDS = ("a", "photo", "of", "the", "cat", "dog", "video", "scene")
# A few CJK characters, so multilingual prompts tokenize to something other than <unk>.
HANZI = ("猫", "狗", "的", "照", "片", "一", "张")
TINY_TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
TINY_VISION = {**TINY_TOWER, "num_attention_heads": 2, "image_size": 64, "patch_size": 16}


def _unigram_pieces(specials: list[str]) -> list[tuple[str, float]]:
    """A SentencePiece-style unigram vocabulary: specials, letters, "▁"-words."""
    pieces = [(tok, 0.0) for tok in specials] + [("▁", -2.0)]
    pieces += [(c, -3.0) for c in [*LETTERS, *HANZI]] + [("▁" + c, -3.5) for c in LETTERS]
    pieces += [("▁" + w, -1.0) for w in WORDS if len(w) > 1]
    return pieces


def _siglip_fast_tokenizer() -> Any:
    """SigLIP's tokenizer shape (lower-cased unigram, "</s>" appended, "</s>" as padding) as
    a `tokenizers` tokenizer, which loads without the sentencepiece package."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    pieces = _unigram_pieces(["<pad>", "</s>", "<unk>"])
    backend = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="</s>",
        pad_token="</s>",
        unk_token="<unk>",
        model_max_length=64,
    )


def _write_spiece_model(directory: Path) -> None:
    """Replace the tokenizer with a genuine SentencePiece `spiece.model` + SiglipTokenizer, the
    files google/siglip-* ship. Writing needs only protobuf; loading needs sentencepiece."""
    from transformers.utils import sentencepiece_model_pb2_new as spm_pb2

    proto = spm_pb2.ModelProto()
    normal, control, unknown = 1, 3, 2
    for piece, score in _unigram_pieces(["<pad>", "</s>", "<unk>"]):
        entry = proto.pieces.add()
        entry.piece, entry.score = piece, score
        entry.type = {"<pad>": control, "</s>": control, "<unk>": unknown}.get(piece, normal)
    proto.trainer_spec.model_type = 1  # unigram
    proto.trainer_spec.unk_id, proto.trainer_spec.eos_id = 2, 1
    proto.trainer_spec.pad_id, proto.trainer_spec.bos_id = 0, -1
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = True
    proto.normalizer_spec.escape_whitespaces = True
    (directory / "tokenizer.json").unlink(missing_ok=True)
    (directory / "spiece.model").write_bytes(proto.SerializeToString())
    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("backend", None)
    config.update(tokenizer_class="SiglipTokenizer", do_lower_case=True)
    config_path.write_text(json.dumps(config, indent=2))


def _siglip_scoring(model: Any) -> Any:
    """Set SigLIP's scale and bias as the paper initialises them (t' = log 10, b = -10), so
    calibrated scores are not the trivial sigmoid(cos) of transformers' zero init."""
    with torch.no_grad():
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-10.0)
    return model


def random_siglip(seed: int = 0) -> tuple[Any, Any]:
    from transformers import (
        SiglipConfig,
        SiglipImageProcessorPil,
        SiglipModel,
        SiglipProcessor,
        SiglipTextConfig,
        SiglipVisionConfig,
    )

    tokenizer = _siglip_fast_tokenizer()
    text = SiglipTextConfig(
        vocab_size=len(tokenizer),
        num_attention_heads=2,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=1,
        eos_token_id=1,
        **TINY_TOWER,
    )
    config = SiglipConfig(
        text_config=text.to_dict(), vision_config=SiglipVisionConfig(**TINY_VISION).to_dict()
    )
    torch.manual_seed(seed)
    model = _siglip_scoring(SiglipModel(config).eval())
    image_processor = SiglipImageProcessorPil(size={"height": 64, "width": 64})
    return model, SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def random_siglip2(seed: int = 0) -> tuple[Any, Any]:
    from transformers import (
        Siglip2Config,
        Siglip2ImageProcessorPil,
        Siglip2Model,
        Siglip2Processor,
        Siglip2TextConfig,
        Siglip2Tokenizer,
        Siglip2VisionConfig,
    )

    # Gemma's shape: byte-fallback BPE over "▁"-joined text, lower-cased by Siglip2Tokenizer.
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4}
    for byte in range(256):
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    for token in [*LETTERS, *HANZI, "▁"] + ["▁" + c for c in LETTERS]:
        vocab.setdefault(token, len(vocab))
    tokenizer = Siglip2Tokenizer(
        vocab=vocab, merges=[("▁", c) for c in LETTERS], model_max_length=64
    )
    text = Siglip2TextConfig(
        vocab_size=len(vocab),
        num_attention_heads=2,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=1,
        **TINY_TOWER,
    )
    vision = Siglip2VisionConfig(num_attention_heads=2, num_patches=36, patch_size=16, **TINY_TOWER)
    config = Siglip2Config(text_config=text.to_dict(), vision_config=vision.to_dict())
    torch.manual_seed(seed)
    model = _siglip_scoring(Siglip2Model(config).eval())
    image_processor = Siglip2ImageProcessorPil(max_num_patches=36, patch_size=16)
    return model, Siglip2Processor(image_processor=image_processor, tokenizer=tokenizer)


def random_altclip(seed: int = 0) -> tuple[Any, Any]:
    from transformers import (
        AltCLIPConfig,
        AltCLIPModel,
        AltCLIPProcessor,
        AltCLIPTextConfig,
        AltCLIPVisionConfig,
        CLIPImageProcessorPil,
        XLMRobertaTokenizer,
    )

    pieces = [*_unigram_pieces(["<s>", "<pad>", "</s>", "<unk>"]), ("<mask>", 0.0)]
    tokenizer = XLMRobertaTokenizer(vocab=pieces, model_max_length=77)
    # XLM-R numbers positions from pad_token_id + 1: 79 rows hold a 77-token context.
    text = AltCLIPTextConfig(
        vocab_size=len(pieces),
        num_attention_heads=2,
        max_position_embeddings=79,
        pad_token_id=1,
        project_dim=48,
        **TINY_TOWER,
    )
    config = AltCLIPConfig(
        text_config=text.to_dict(),
        vision_config=AltCLIPVisionConfig(**TINY_VISION).to_dict(),
        projection_dim=48,
    )
    torch.manual_seed(seed)
    model = AltCLIPModel(config).eval()
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}
    )
    return model, AltCLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def random_chinese_clip(seed: int = 0) -> tuple[Any, Any]:
    from transformers import (
        BertTokenizer,
        ChineseCLIPConfig,
        ChineseCLIPImageProcessorPil,
        ChineseCLIPModel,
        ChineseCLIPProcessor,
        ChineseCLIPTextConfig,
        ChineseCLIPVisionConfig,
    )

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *LETTERS, *HANZI]
    tokens += ["##" + c for c in LETTERS] + [w for w in WORDS if len(w) > 1]
    tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(tokens)}, model_max_length=52)
    text = ChineseCLIPTextConfig(
        vocab_size=len(tokens),
        num_attention_heads=2,
        max_position_embeddings=52,
        pad_token_id=0,
        **TINY_TOWER,
    )
    config = ChineseCLIPConfig(
        text_config=text.to_dict(),
        vision_config=ChineseCLIPVisionConfig(**TINY_VISION).to_dict(),
        projection_dim=48,
    )
    torch.manual_seed(seed)
    model = ChineseCLIPModel(config).eval()
    image_processor = ChineseCLIPImageProcessorPil(
        size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}
    )
    return model, ChineseCLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


# One builder per supported family (config.json model_type), all tiny.
RANDOM_FAMILIES: dict[str, Callable[[int], tuple[Any, Any]]] = {
    "clip": lambda seed: random_clip(TINY, seed),
    "siglip": random_siglip,
    "siglip2": random_siglip2,
    "altclip": random_altclip,
    "chinese_clip": random_chinese_clip,
}


def write_random_model(
    directory: Path, family: str = "clip", seed: int = 0, sentencepiece: bool = False
) -> Path:
    """A tiny random checkpoint of `family` in `directory`, loadable with from_pretrained.

    `sentencepiece=True` (SigLIP only) writes the tokenizer as `spiece.model` for
    SiglipTokenizer, as the released SigLIP checkpoints do."""
    model, processor = RANDOM_FAMILIES[family](seed)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    if sentencepiece:
        if family != "siglip":
            raise ValueError("only the siglip family ships a sentencepiece tokenizer")
        _write_spiece_model(directory)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--size", choices=(TINY, VIT_B_32), default=TINY)
    parser.add_argument("--family", choices=sorted(RANDOM_FAMILIES), default="clip")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.family == "clip":
        print(write_random_clip(args.directory, args.size, args.seed))
    else:
        print(write_random_model(args.directory, args.family, args.seed))


if __name__ == "__main__":
    main()
