"""Dense indexing on a GPU: passages/s of s3core's index build (encoder + FAISS flat IP) with fp16 and fp32
on CUDA, a CPU reference, and how far fp16 embeddings are from fp32 ones.

Without --encoder the encoder is e5-base-v2's architecture (BERT-base: 12 layers, hidden 768) with random
weights, built from a tokenizer folder, so the run needs no hub download; speed does not depend on the
weights. The corpus is repeated --repeat times to get a size worth timing.

Run (GPU machine): python benchmarks/dense_index_gpu.py --corpus CORPUS.jsonl --tokenizer DIR [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from s3core.config.sections import DenseConfig, parse
from s3core.retrieval.dense import Encoder, build_dense_index

PASSAGE_PREFIX, QUERY_PREFIX = "passage: ", "query: "


def random_bert_base(tokenizer_dir: Path, out: Path) -> Path:
    """A BERT-base encoder (e5-base-v2's shape) with seeded random weights, saved beside its tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    model = BertModel(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            max_position_embeddings=512,
        )
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def repeated_corpus(corpus: Path, repeat: int, out: Path) -> int:
    """Write the corpus `repeat` times with fresh ids; returns the row count."""
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    with out.open("w", encoding="utf-8") as handle:
        for copy in range(repeat):
            for row in rows:
                handle.write(json.dumps({"id": f"{row['id']}-{copy}", "contents": row["contents"]}) + "\n")
    return len(rows) * repeat


def dense_config(encoder: Path, device: str, fp16: bool, batch_size: int) -> DenseConfig:
    """The `retriever.dense` section for `encoder` (e5's prefixes, max_length 256), the others its defaults."""
    dense = {
        "encoder": str(encoder),
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
        "max_length": 256,
        "batch_size": batch_size,
        "device": device,
        "fp16": fp16,
    }
    return parse("retriever", {"dense": dense}).dense


def time_build(corpus: Path, out: Path, dense: DenseConfig) -> float:
    """Seconds to build the index (model load included), with CUDA synchronised."""
    start = time.perf_counter()
    build_dense_index(corpus, out, dense)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def fp16_drift(encoder: Path, texts: list[str]) -> tuple[float, float]:
    """Mean and minimum cosine between fp16 and fp32 CUDA embeddings of the same passages."""
    half = Encoder(dense_config(encoder, "cuda", True, 256)).encode(texts, PASSAGE_PREFIX)
    full = Encoder(dense_config(encoder, "cuda", False, 256)).encode(texts, PASSAGE_PREFIX)
    cosine = (half * full).sum(axis=1)
    return float(cosine.mean()), float(cosine.min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--tokenizer", type=Path, help="tokenizer folder for the random BERT-base encoder")
    parser.add_argument("--encoder", type=Path, help="an encoder folder instead of the random BERT-base")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--cpu-passages", type=int, default=2000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dense-gpu-"))
    encoder = args.encoder or random_bert_base(args.tokenizer, work / "encoder")
    corpus = work / "corpus.jsonl"
    count = repeated_corpus(args.corpus, args.repeat, corpus)
    cpu_corpus = work / "cpu.jsonl"
    cpu_corpus.write_text("".join(corpus.open(encoding="utf-8").readline() for _ in range(args.cpu_passages)))
    warm_corpus = work / "warm.jsonl"
    warm_corpus.write_text("".join(cpu_corpus.open(encoding="utf-8").readline() for _ in range(256)))

    rows = []
    for i, (name, device, fp16, path, n) in enumerate(
        [
            ("CUDA fp16", "cuda", True, corpus, count),
            ("CUDA fp32", "cuda", False, corpus, count),
            (f"CPU fp32 ({torch.get_num_threads()} threads)", "cpu", False, cpu_corpus, args.cpu_passages),
        ]
    ):
        time_build(warm_corpus, work / "warm", dense_config(encoder, device, fp16, 512))
        seconds = time_build(path, work / f"index-{i}", dense_config(encoder, device, fp16, 512))
        rows.append({"mode": name, "passages": n, "seconds": seconds, "passages/s": n / seconds})
    table = pd.DataFrame(rows)
    table["speed vs CUDA fp32"] = table["passages/s"] / table.loc[1, "passages/s"]
    texts = [json.loads(line)["contents"] for line in cpu_corpus.read_text(encoding="utf-8").splitlines()]
    mean_cos, min_cos = fp16_drift(encoder, texts)

    print(
        f"Dense index build (encoder + FAISS IndexFlatIP), BERT-base-sized encoder, max_length 256, batch 512, "
        f"{torch.cuda.get_device_name(0)}\n"
    )
    print(table.round(2).to_markdown(index=False))
    print(f"\nfp16 vs fp32 embeddings of {len(texts)} passages: mean cosine {mean_cos:.5f}, min {min_cos:.5f}")
    print(f"wiki-18 (21,015,324 passages) at the fp16 rate: {21_015_324 / table.loc[0, 'passages/s'] / 60:.0f} min")


if __name__ == "__main__":
    main()
