#!/usr/bin/python3
"""PyTorch CPU peer of `translate`: English->French BLEU at equal wall time.

Trains an attentional encoder-decoder for a fixed number of minutes of training time, keeps the
state with the best validation loss, and decodes the test set greedily and with beam search; the
JavaScript `translate` is compared against these outputs (BLEU is scored elsewhere).

Model (every size a flag):
  source Embedding(Vs, E, padding_idx=0) -> dropout -> bidirectional LSTM(E, H, layers), packed
  bridge: last encoder layer's final [h_fwd; h_bwd] and [c_fwd; c_bwd] (2H) give every decoder
          layer h0 = tanh(bridge_h(h_cat)), c0 = bridge_c(c_cat), both Linear(2H, Hd)
  target Embedding(Vt, E, padding_idx=0) -> dropout -> LSTM(E, Hd, layers), teacher forcing
  Luong "general" attention, no input feeding: scores = dec . attn_key(memory) (Linear(2H, Hd),
          no bias), padded source positions masked, softmax, ctx = sum alpha * memory (2H)
  combined = tanh(attn_combine([ctx; dec])) (Linear(2H + Hd, Hd), no bias) -> dropout
          -> out (Linear(Hd, Vt)) -> logits
  loss: cross-entropy averaged over non-pad target tokens; Adam, gradient-norm clipping.

Data: --data DIR with train.tsv, validation.tsv, test.tsv, one `source<TAB>target` pair a line,
tokens separated by single spaces (opaque strings, some starting with U+2581). Vocabularies come
from train.tsv only (see build_vocab). Blank lines are skipped, so the output files have one line
per non-blank line of test.tsv, in file order.

Outputs in --out DIR: test.greedy.txt, test.beam.txt, summary.json, and checkpoint.pt (the run's
state at the last epoch end or stop: Ctrl-C or SIGTERM ends the step under way, checkpoints and
exits 130; the same command with --resume continues it, the clock included).

Run (CPU only; Debian's python3-torch 1.13):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE \\
    /usr/bin/python3 bench/seq2seq/seq2seq.py --data DIR --out DIR --minutes 30
"""
import argparse
import copy
import json
import math
import os
import random
import signal
import sys
import time
from collections import Counter

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SOURCE_SPECIALS = ["<pad>", "<unk>"]
TARGET_SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]


# ---------------------------------------------------------------------------------------------
# Data and vocabulary


def tokens(text):
    # Single spaces separate tokens; filtering empties tolerates doubled or edge spaces. Not
    # str.split(), which would also split on Unicode whitespace such as U+00A0.
    return [t for t in text.split(" ") if t]


def read_pairs(path):
    """List of (source tokens, target tokens), one per non-blank line, in file order."""
    pairs = []
    with open(path, encoding="utf-8") as f:  # text mode: \r\n becomes \n
        for line in f:
            line = line.rstrip("\n")
            if not line.strip(" \t\r"):
                continue
            source, _, target = line.partition("\t")
            pairs.append((tokens(source), tokens(target.rstrip("\r"))))
    return pairs


def build_vocab(sentences, specials, min_freq, size):
    """Specials first, then tokens with count >= min_freq by count descending, ties by the token
    string ascending (Python compares code points, not UTF-16 units), capped at `size` entries
    in all. A data token spelled like a special takes no slot of its own: it maps to the special."""
    counts = Counter(t for s in sentences for t in s)
    ranked = sorted(
        (t for t, n in counts.items() if n >= min_freq and t not in specials),
        key=lambda t: (-counts[t], t),
    )
    itos = list(specials) + ranked[: max(0, size - len(specials))]
    return itos, {t: i for i, t in enumerate(itos)}


def encode_pairs(pairs, src_stoi, tgt_stoi):
    encoded = []
    for source, target in pairs:
        # An empty source would give a zero-length packed sequence (an error) and an all-masked
        # attention row (NaN): read it as a single <unk>.
        src = [src_stoi.get(t, UNK) for t in source] or [UNK]
        tgt = [tgt_stoi.get(t, UNK) for t in target]
        encoded.append((src, tgt))
    return encoded


def pad(rows, value=PAD):
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def make_batch(examples):
    """Source (B, S), source lengths (B,), decoder input <bos> y (B, T), target y <eos> (B, T)."""
    src = pad([s for s, _ in examples])
    lengths = torch.tensor([len(s) for s, _ in examples], dtype=torch.long)
    dec_in = pad([[BOS] + t for _, t in examples])
    dec_out = pad([t + [EOS] for _, t in examples])
    return src, lengths, dec_in, dec_out


def bucketed(examples, batch_size):
    """One epoch's batches (lists of example indices): shuffle, sort each chunk of 100 batches by
    source length (stable), cut it into batches (the last may be short: nothing is dropped), then
    shuffle the batch order. Uses the `random` module seeded with --seed, a fresh shuffle each
    epoch."""
    order = list(range(len(examples)))
    random.shuffle(order)
    chunk = batch_size * 100
    batches = []
    for i in range(0, len(order), chunk):
        part = sorted(order[i : i + chunk], key=lambda j: len(examples[j][0]))
        batches.extend(part[k : k + batch_size] for k in range(0, len(part), batch_size))
    random.shuffle(batches)
    return batches


def by_length(examples, batch_size):
    """Deterministic batches of similar source length, for evaluation and decoding."""
    order = sorted(range(len(examples)), key=lambda j: len(examples[j][0]))
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


# ---------------------------------------------------------------------------------------------
# Model


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, embedding, hidden, decoder_hidden, layers, dropout):
        super().__init__()
        between = dropout if layers > 1 else 0.0  # nn.LSTM's dropout acts between layers only
        self.layers = layers
        self.src_embed = nn.Embedding(src_vocab, embedding, padding_idx=PAD)
        self.encoder = nn.LSTM(
            embedding, hidden, num_layers=layers, bidirectional=True, batch_first=True, dropout=between
        )
        self.bridge_h = nn.Linear(2 * hidden, decoder_hidden)
        self.bridge_c = nn.Linear(2 * hidden, decoder_hidden)
        self.tgt_embed = nn.Embedding(tgt_vocab, embedding, padding_idx=PAD)
        self.decoder = nn.LSTM(embedding, decoder_hidden, num_layers=layers, batch_first=True, dropout=between)
        self.attn_key = nn.Linear(2 * hidden, decoder_hidden, bias=False)
        self.attn_combine = nn.Linear(2 * hidden + decoder_hidden, decoder_hidden, bias=False)
        self.out = nn.Linear(decoder_hidden, tgt_vocab)
        self.drop = nn.Dropout(dropout)

    def encode(self, src, lengths):
        """Memory (B, S, 2H), keys (B, S, Hd), mask (B, S) true on real tokens, decoder state."""
        embedded = self.drop(self.src_embed(src))
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        output, (h_n, c_n) = self.encoder(packed)
        memory, _ = pad_packed_sequence(output, batch_first=True, total_length=src.size(1))
        # h_n is (layers * 2, B, H), back in batch order; the last two rows are the last layer's
        # forward and backward final states (each sequence's own last token, thanks to packing).
        h_cat = torch.cat([h_n[-2], h_n[-1]], dim=-1)
        c_cat = torch.cat([c_n[-2], c_n[-1]], dim=-1)
        h0 = torch.tanh(self.bridge_h(h_cat)).unsqueeze(0).repeat(self.layers, 1, 1)
        c0 = self.bridge_c(c_cat).unsqueeze(0).repeat(self.layers, 1, 1)
        mask = torch.arange(src.size(1)).unsqueeze(0) < lengths.unsqueeze(1)
        return memory, self.attn_key(memory), mask, (h0.contiguous(), c0.contiguous())

    def attend(self, dec, memory, keys, mask):
        """Logits (B, T, Vt) for decoder outputs dec (B, T, Hd): all steps at once."""
        scores = torch.bmm(dec, keys.transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        context = torch.bmm(torch.softmax(scores, dim=-1), memory)  # (B, T, 2H)
        combined = torch.tanh(self.attn_combine(torch.cat([context, dec], dim=-1)))
        return self.out(self.drop(combined))

    def forward(self, src, lengths, dec_in):
        memory, keys, mask, state = self.encode(src, lengths)
        # Padding at the end of dec_in cannot reach earlier positions (the LSTM is causal), and
        # its outputs are ignored by the loss, so the decoder runs unpacked.
        dec, _ = self.decoder(self.drop(self.tgt_embed(dec_in)), state)
        return self.attend(dec, memory, keys, mask)

    def step(self, prev, state, memory, keys, mask):
        """One decoding step: previous tokens (B,) -> logits (B, Vt), new state."""
        dec, state = self.decoder(self.drop(self.tgt_embed(prev.unsqueeze(1))), state)
        return self.attend(dec, memory, keys, mask).squeeze(1), state


# ---------------------------------------------------------------------------------------------
# Training


def validation_loss(model, examples, batch_size):
    """Teacher-forced cross-entropy, mean per target token (<eos> included, padding not)."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in by_length(examples, batch_size):
            src, lengths, dec_in, dec_out = make_batch([examples[j] for j in batch])
            logits = model(src, lengths, dec_in)
            total += nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), dec_out.reshape(-1), ignore_index=PAD, reduction="sum"
            ).item()
            count += int((dec_out != PAD).sum())
    model.train()
    return total / max(count, 1)


class Interrupt:
    """Ctrl-C (SIGINT) or SIGTERM asks for a stop: the step under way ends, a checkpoint is
    written and the program exits with code 130; `--resume` continues from it."""

    def __init__(self):
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._request)

    def _request(self, signum, frame):
        self.requested = True


def refuse(message):
    """Bad input: one line on stderr, named after the script run (this or to_translate.py), and exit code 2."""
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
    sys.exit(2)


def load_checkpoint(path, fix=""):
    """torch.load, refusing a damaged or foreign file with one line (`fix` appended to it)."""
    try:
        return torch.load(path)
    except Exception as error:  # a damaged or foreign file: one line, as for other bad input
        refuse(f"{path}: cannot read the checkpoint ({str(error).splitlines()[0] if str(error) else type(error).__name__}){fix}")


def save_checkpoint(path, state):
    """Atomically: a temporary file, fsync, rename (a stop mid-write leaves the last checkpoint)."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


# What a resumed run must share with the run it continues.
RUN_FLAGS = ("minutes", "min_freq", "vocab_size", "embedding", "hidden", "decoder_hidden", "layers", "dropout", "lr", "clip", "batch_size", "seed")


def train(model, train_set, valid_set, args, interrupt):
    """Trains for --minutes of training time (validation outside the clock), keeping the state
    with the best validation loss. The run's state is checkpointed to <out>/checkpoint.pt at each
    epoch's end and on a stop, so that a comparison can span several sittings (`--resume`): the
    clock, the epoch's batches, the position in them and both random generators carry over.
    Returns (statistics, best state), or None when stopped (checkpointed)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    path = os.path.join(args.out, "checkpoint.pt")
    run = {
        "flags": {k: getattr(args, k) for k in RUN_FLAGS},
        "seconds": 0.0,  # training time only: validation is outside the clock
        "steps": 0, "tokens_seen": 0, "epochs": 0.0,
        "best_loss": math.inf, "best_state": copy.deepcopy(model.state_dict()), "best_epoch": 0.0,
        "epoch": 0, "batches": None, "next_batch": 0, "out_of_time": False,
        "epoch_loss": 0.0, "epoch_tokens": 0, "epoch_seconds": 0.0, "epoch_steps": 0,
    }
    if args.resume and os.path.exists(path):
        saved = load_checkpoint(path, "; start again without --resume in another --out")
        different = {k: (v, run["flags"][k]) for k, v in saved["flags"].items() if run["flags"].get(k) != v}
        if different:
            refuse(f"{path}: the run was started with other flags ({different}); resume with the same ones")
        model.load_state_dict(saved.pop("model"))
        optimizer.load_state_dict(saved.pop("optimizer"))
        random.setstate(saved.pop("python_random"))
        torch.set_rng_state(saved.pop("torch_random"))
        run = saved
        print(f"resumed from {path}: {run['steps']} steps, {run['seconds']:.1f}s of training", file=sys.stderr)

    def checkpoint():
        save_checkpoint(path, {**run, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "python_random": random.getstate(), "torch_random": torch.get_rng_state()})

    budget = args.minutes * 60.0
    model.train()
    while not run["out_of_time"]:
        if run["batches"] is None:
            run.update(epoch=run["epoch"] + 1, batches=bucketed(train_set, args.batch_size), next_batch=0,
                       epoch_loss=0.0, epoch_tokens=0, epoch_seconds=0.0, epoch_steps=0)
        batches = run["batches"]
        while run["next_batch"] < len(batches):
            if interrupt.requested:
                checkpoint()
                return None
            start = time.perf_counter()
            src, lengths, dec_in, dec_out = make_batch([train_set[j] for j in batches[run["next_batch"]]])
            logits = model(src, lengths, dec_in)
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), dec_out.reshape(-1), ignore_index=PAD
            )
            optimizer.zero_grad()
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            elapsed = time.perf_counter() - start
            n_tokens = int((dec_out != PAD).sum())
            run["seconds"] += elapsed
            run["epoch_seconds"] += elapsed
            run["epoch_loss"] += loss.item() * n_tokens
            run["epoch_tokens"] += n_tokens
            run["epoch_steps"] += 1
            run["steps"] += 1
            run["next_batch"] += 1
            if run["seconds"] >= budget:
                run["out_of_time"] = True
                break
        epoch, epoch_steps = run["epoch"], run["epoch_steps"]
        run["epochs"] = epoch - 1 + epoch_steps / len(batches)
        val = validation_loss(model, valid_set, args.batch_size)
        if val < run["best_loss"]:
            run.update(best_loss=val, best_state=copy.deepcopy(model.state_dict()), best_epoch=run["epochs"])
        run["tokens_seen"] += run["epoch_tokens"]
        partial = " (time up)" if run["out_of_time"] and epoch_steps < len(batches) else ""
        print(
            f"epoch {epoch}{partial}  steps {epoch_steps} (total {run['steps']})  "
            f"train loss {run['epoch_loss'] / max(run['epoch_tokens'], 1):.4f}  val loss {val:.4f}  "
            f"elapsed {run['seconds']:.1f}s  tokens/s {run['epoch_tokens'] / max(run['epoch_seconds'], 1e-9):.0f}",
            file=sys.stderr,
            flush=True,
        )
        run["batches"] = None
        checkpoint()
    return {
        "epochs": run["epochs"],
        "steps": run["steps"],
        "train_seconds": run["seconds"],
        "best_validation_loss": run["best_loss"],
        "best_epoch": run["best_epoch"],
        "train_tokens_per_second": run["tokens_seen"] / max(run["seconds"], 1e-9),
        "train_target_tokens": run["tokens_seen"],
    }, run["best_state"]


# ---------------------------------------------------------------------------------------------
# Decoding


def max_steps(length, ratio):
    # Steps emit one token each, <eos> included.
    return int(ratio * length) + 10


def greedy(model, src, lengths, ratio):
    memory, keys, mask, state = model.encode(src, lengths)
    limits = [max_steps(n, ratio) for n in lengths.tolist()]
    prev = torch.full((src.size(0),), BOS, dtype=torch.long)
    done = torch.zeros(src.size(0), dtype=torch.bool)
    limit_t = torch.tensor(limits)
    emitted = []
    for t in range(1, max(limits) + 1):
        logits, state = model.step(prev, state, memory, keys, mask)
        prev = logits.argmax(dim=-1)
        emitted.append(prev)
        done |= (prev == EOS) | (limit_t <= t)
        if bool(done.all()):
            break
    emitted = torch.stack(emitted, dim=1).tolist()
    outputs = []
    for row, limit in zip(emitted, limits):
        row = row[:limit]
        outputs.append(row[: row.index(EOS)] if EOS in row else row)
    return outputs


def beam_search(model, src, lengths, ratio, beam, alpha):
    """Batched beam search over sentences, K = beam live hypotheses per sentence.

    Each step scores every live hypothesis x every token (score = sum of log-probs) and takes
    the 2K best candidates per sentence. An <eos> candidate ranked within the first K becomes a
    finished hypothesis (normalised by the GNMT penalty ((5 + len) / 6) ** alpha, len = output
    tokens including <eos>); the K best non-<eos> candidates stay live.
    Stopping rule (the simple one, as fairseq does): a sentence is done once K finished
    hypotheses are collected or after max_steps steps; it returns its best finished hypothesis
    by normalised score, or the best live one (by raw score) if none finished.
    Finished sentences leave the batch, so the work shrinks as decoding goes on.
    """
    K = beam
    memory, keys, mask, (h, c) = model.encode(src, lengths)
    n = src.size(0)
    expand = torch.arange(n).repeat_interleave(K)
    memory, keys, mask = memory[expand], keys[expand], mask[expand]
    h, c = h[:, expand], c[:, expand]
    # Only the first hypothesis is live at the start, or the K copies would fill the beam.
    scores = torch.full((n, K), float("-inf"))
    scores[:, 0] = 0.0
    history = torch.zeros((n * K, 0), dtype=torch.long)
    prev = torch.full((n * K,), BOS, dtype=torch.long)
    ids = list(range(n))  # original sentence of each active row
    limits = [max_steps(x, ratio) for x in lengths.tolist()]
    finished = [[] for _ in range(n)]  # (normalised score, tokens without <eos>)
    results = [None] * n
    t = 0
    while ids:
        t += 1
        active = len(ids)
        logits, (h, c) = model.step(prev, (h, c), memory, keys, mask)
        vocab = logits.size(-1)
        cand = (scores.reshape(-1, 1) + torch.log_softmax(logits, dim=-1)).reshape(active, K * vocab)
        top_scores, top_index = cand.topk(min(2 * K, K * vocab), dim=1)
        from_beam = torch.div(top_index, vocab, rounding_mode="floor")
        token = top_index % vocab
        is_eos = token == EOS
        penalty = ((5.0 + t) / 6.0) ** alpha
        hits = (is_eos[:, :K] & torch.isfinite(top_scores[:, :K])).nonzero().tolist()
        for row, rank in hits:  # rank order within a row: nonzero() is row-major
            sentence = ids[row]
            if len(finished[sentence]) < K:
                tokens_so_far = history[row * K + int(from_beam[row, rank])].tolist()
                finished[sentence].append((float(top_scores[row, rank]) / penalty, tokens_so_far))
        live = top_scores.masked_fill(is_eos, float("-inf"))
        scores, pick = live.topk(K, dim=1)
        flat = (torch.arange(active).unsqueeze(1) * K + from_beam.gather(1, pick)).reshape(-1)
        prev = token.gather(1, pick).reshape(-1)
        history = torch.cat([history[flat], prev.unsqueeze(1)], dim=1)
        h, c = h[:, flat], c[:, flat]

        keep = []
        for row, sentence in enumerate(ids):
            if len(finished[sentence]) >= K or t >= limits[sentence]:
                if finished[sentence]:
                    results[sentence] = max(finished[sentence], key=lambda f: f[0])[1]  # first of ties
                else:
                    results[sentence] = history[row * K + int(scores[row].argmax())].tolist()
            else:
                keep.append(row)
        if len(keep) < active:
            rows = torch.tensor(keep, dtype=torch.long)
            sel = (rows.unsqueeze(1) * K + torch.arange(K)).reshape(-1)
            ids = [ids[r] for r in keep]
            scores, prev, history = scores[rows], prev[sel], history[sel]
            memory, keys, mask, h, c = memory[sel], keys[sel], mask[sel], h[:, sel], c[:, sel]
    return results


def decode(model, examples, batch_size, fn):
    """Token-index outputs for every example, in input order."""
    outputs = [None] * len(examples)
    with torch.no_grad():
        for batch in by_length(examples, batch_size):
            src, lengths, _, _ = make_batch([examples[j] for j in batch])
            for j, out in zip(batch, fn(src, lengths)):
                outputs[j] = out
    return outputs


def to_text(indices, itos):
    # <unk> (index 1) prints as "<unk>", which is itos[1].
    return " ".join(itos[i] for i in indices if i not in (PAD, BOS, EOS))


# ---------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="directory with train.tsv, validation.tsv, test.tsv")
    p.add_argument("--out", required=True, help="directory for test.greedy.txt, test.beam.txt, summary.json")
    p.add_argument("--minutes", type=float, required=True, help="training time, validation excluded")
    p.add_argument("--min-freq", type=int, default=2)
    p.add_argument("--vocab-size", type=int, default=8000, help="per side, specials included")
    p.add_argument("--embedding", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256, help="encoder hidden size per direction")
    p.add_argument("--decoder-hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=1.0, help="max gradient norm; 0 disables")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--length-penalty", type=float, default=0.6, help="GNMT alpha")
    p.add_argument("--max-output-ratio", type=float, default=2.0)
    p.add_argument("--resume", action="store_true", help="continue the run checkpointed in --out (after a stop)")
    return p.parse_args(argv)


def main():
    args = parse_args()
    interrupt = Interrupt()  # a stop while the data loads waits for the first step
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)

    train_pairs = read_pairs(os.path.join(args.data, "train.tsv"))
    valid_pairs = read_pairs(os.path.join(args.data, "validation.tsv"))
    test_pairs = read_pairs(os.path.join(args.data, "test.tsv"))
    src_itos, src_stoi = build_vocab([s for s, _ in train_pairs], SOURCE_SPECIALS, args.min_freq, args.vocab_size)
    tgt_itos, tgt_stoi = build_vocab([t for _, t in train_pairs], TARGET_SPECIALS, args.min_freq, args.vocab_size)
    train_set = encode_pairs(train_pairs, src_stoi, tgt_stoi)
    valid_set = encode_pairs(valid_pairs, src_stoi, tgt_stoi)
    test_set = encode_pairs(test_pairs, src_stoi, tgt_stoi)
    print(
        f"pairs train {len(train_set)} validation {len(valid_set)} test {len(test_set)}; "
        f"vocab source {len(src_itos)} target {len(tgt_itos)}",
        file=sys.stderr,
    )

    model = Seq2Seq(
        len(src_itos), len(tgt_itos), args.embedding, args.hidden, args.decoder_hidden, args.layers, args.dropout
    )
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters {parameters}; training for {args.minutes} minutes", file=sys.stderr)

    os.makedirs(args.out, exist_ok=True)
    trained = train(model, train_set, valid_set, args, interrupt)
    if trained is None:
        print(f"stopped; checkpoint in {args.out}: continue with the same command and --resume", file=sys.stderr)
        sys.exit(130)
    stats, best_state = trained
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)  # decoding is redone by a resumed run: stop it at once
    model.load_state_dict(best_state)
    model.eval()

    timings = {}
    for name, fn in (
        ("greedy", lambda s, l: greedy(model, s, l, args.max_output_ratio)),
        ("beam", lambda s, l: beam_search(model, s, l, args.max_output_ratio, args.beam, args.length_penalty)),
    ):
        start = time.perf_counter()
        outputs = decode(model, test_set, args.batch_size, fn)
        timings[f"{name}_seconds"] = time.perf_counter() - start
        with open(os.path.join(args.out, f"test.{name}.txt"), "w", encoding="utf-8") as f:
            f.writelines(to_text(o, tgt_itos) + "\n" for o in outputs)
        print(f"{name} decoding {timings[f'{name}_seconds']:.1f}s", file=sys.stderr)

    summary = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "parameters": parameters,
        **stats,
        **timings,
        "source_vocab": len(src_itos),
        "target_vocab": len(tgt_itos),
        "pairs": {"train": len(train_set), "validation": len(valid_set), "test": len(test_set)},
        "flags": vars(args),
    }
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
