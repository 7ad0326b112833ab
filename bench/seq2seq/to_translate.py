#!/usr/bin/python3
"""Turns a run of the PyTorch peer (seq2seq.py) into a `translate` model folder, so that
`translate eval --model FOLDER` scores the peer's weights with our decoder and reports where its
outputs looked (the attention line: the peer's own outputs say nothing about its attention).

The folder holds the peer's best state (or its last one, --state last) under our parameter names,
the peer's vocabularies (built again from --data's train.tsv with the run's flags: seq2seq.py and
`translate` build the same ones, specials and order alike) and a config.json for the en-fr task's
tokenisation and `translate train`'s default length limits.

Run (Debian's python3-torch 1.13):
  /usr/bin/python3 bench/seq2seq/to_translate.py --run runs/peer-seed3 --data runs/s2s-data --out runs/peer-seed3-folder
  node apps/translate/bin/translate.mjs eval --model runs/peer-seed3-folder --beam 1
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "packages", "core", "fixtures"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "apps", "translate", "fixtures"))
import seq2seq  # noqa: E402  (the peer: its data reading and vocabulary)
from make_fixtures import write_safetensors  # noqa: E402  (core's safetensors writer)
from make_training_fixture import ours  # noqa: E402  (the peer's parameter names -> ours)

# apps/translate/src/data.ts EN_FR_TEXT and the CLI's default --max-source/target-length.
EN_FR_TEXT = {side: {"kind": "reversible", "lowercase": False, "stripHtml": False} for side in ("source", "target")}
LIMITS = {"maxSourceLength": 60, "maxTargetLength": 60}


def write_json(path, value, **options):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, **options)
        f.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", required=True, help="the peer's --out folder (holds checkpoint.pt)")
    p.add_argument("--data", required=True, help="the peer's --data folder (train.tsv gives the vocabularies)")
    p.add_argument("--out", required=True, help="the model folder to write")
    p.add_argument("--state", choices=("best", "last"), default="best", help="best validation loss, or the last checkpointed step")
    args = p.parse_args()

    path = os.path.join(args.run, "checkpoint.pt")
    if not os.path.exists(path):
        seq2seq.refuse(f"{path}: no checkpoint; name the folder a seq2seq.py run wrote (its --out)")
    train_path = os.path.join(args.data, "train.tsv")
    if not os.path.exists(train_path):
        seq2seq.refuse(f"{train_path}: no such file; name the run's --data folder")
    if os.path.exists(os.path.join(args.out, "config.json")):
        seq2seq.refuse(f"{args.out} holds a model folder already: name another --out, or remove it first")
    run = seq2seq.load_checkpoint(path)
    flags = run["flags"]
    if flags["layers"] != 1:
        seq2seq.refuse(f"{path}: a {flags['layers']}-layer peer; this export knows the one-layer model only")
    train = seq2seq.read_pairs(train_path)
    source, _ = seq2seq.build_vocab([s for s, _ in train], seq2seq.SOURCE_SPECIALS, flags["min_freq"], flags["vocab_size"])
    target, _ = seq2seq.build_vocab([t for _, t in train], seq2seq.TARGET_SPECIALS, flags["min_freq"], flags["vocab_size"])
    state = run["best_state"] if args.state == "best" else run["model"]
    if state["src_embed.weight"].shape[0] != len(source) or state["tgt_embed.weight"].shape[0] != len(target):
        seq2seq.refuse(f"{path}: its vocabularies are not the ones {args.data}/train.tsv gives; name the run's own --data")

    os.makedirs(args.out, exist_ok=True)
    tensors = {ours(name): value.detach().to(torch.float32).contiguous() for name, value in state.items()}
    write_safetensors(os.path.join(args.out, "model.safetensors"), tensors, {"format": "pt", "app": "translate"})
    write_json(os.path.join(args.out, "source-vocabulary.json"), {"tokens": source}, separators=(",", ":"))
    write_json(os.path.join(args.out, "target-vocabulary.json"), {"tokens": target}, separators=(",", ":"))
    epoch = run["best_epoch"] if args.state == "best" else run["epochs"]
    config = {
        "app": "translate",
        "version": 1,
        "model": {
            "sourceVocabularySize": len(source), "targetVocabularySize": len(target),
            "embedding": flags["embedding"], "hidden": flags["hidden"], "layers": 1,
            "decoderHidden": flags["decoder_hidden"], "decoderLayers": 1,
            "cell": "lstm", "attention": "general", "inputFeeding": False,
            "dropout": flags["dropout"], "seed": flags["seed"],
        },
        "task": "en-fr",
        "text": EN_FR_TEXT,
        "limits": LIMITS,
        "training": {"note": f"the PyTorch peer's {args.state} state (epoch {epoch:.2f}) from {path}"},
    }
    write_json(os.path.join(args.out, "config.json"), config, indent=2)  # last: a folder with a config is complete
    print(f"{args.out}: {len(tensors)} tensors, vocabularies {len(source)} / {len(target)}, {args.state} state (epoch {epoch:.2f})", file=sys.stderr)


if __name__ == "__main__":
    main()
