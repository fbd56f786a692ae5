#!/usr/bin/env python3
"""Helpers of scripts/compare: the payload files, and the tables made from its runs.

    compare-lib.py payload FILE SIZE LINES printable|text SEED
        Writes LINES lines of exactly SIZE bytes (newline-separated), made deterministically from
        SHAKE-256 of "SEED:line", so every machine and Python version writes the same bytes. `printable`: bytes 33..126 (no space, no newline: the tools split
        at newlines), about incompressible. `text`: words of a fixed 64-word list separated by
        spaces, cut to SIZE bytes, which lz4 compresses about 2x (like log lines or JSON).

    compare-lib.py report WORKDIR
        Reads WORKDIR/runs.tsv, WORKDIR/failures.tsv and WORKDIR/meta (KEY=VALUE lines written by
        scripts/compare) and prints the result tables in Markdown.
"""

import hashlib
import statistics
import sys

WORDS = (
    "the quick brown fox jumps over lazy dog kafka record batch topic partition offset leader "
    "broker producer consumer message value key header timestamp sequence epoch request response "
    "error retry commit fetch metadata cluster node replica isr acks linger memory buffer queue "
    "send flush close config compression lz4 zstd gzip snappy json user order id amount status "
    "created updated event type source region"
).split()

TOOLS = ["ours", "rdk", "confluent", "java"]
TOOL_NAMES = {
    "ours": "ours (kafka-sync)",
    "rdk": "librdkafka",
    "confluent": "Confluent Rust",
    "java": "Java",
}


PRINTABLE = bytes(33 + b % 94 for b in range(256))


def payload(path, size, lines, kind, seed):
    with open(path, "wb") as out:
        for n in range(lines):
            if kind == "printable":
                line = hashlib.shake_256(f"{seed}:{n}".encode()).digest(size).translate(PRINTABLE)
            else:
                # One byte per word is plenty: a word is at least 2 bytes long.
                picks = hashlib.shake_256(f"{seed}:{n}".encode()).digest(size)
                words = []
                length = -1
                for b in picks:
                    if length >= size:
                        break
                    w = WORDS[b % len(WORDS)]
                    words.append(w)
                    length += len(w) + 1
                line = " ".join(words).encode()[:size]
                if line.endswith(b" "):  # a trailing space would look like a shorter record
                    line = line[:-1] + b"."
            out.write(line + b"\n")


# --- report ------------------------------------------------------------------------------------

RUN_FIELDS = [
    "cfg", "batching", "tool", "round", "rps", "mbps", "avg", "max", "p50", "p95", "p99", "p999",
    "cpu", "wall", "rss_kb", "records",
]


def read_tsv(path, fields):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == len(fields):
                    rows.append(dict(zip(fields, parts)))
    except FileNotFoundError:
        pass
    return rows


def median(values):
    return statistics.median(values) if values else None


def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}" if digits == 0 else f"{x:.{digits}f}"


class Report:
    def __init__(self, workdir):
        self.meta = {}
        with open(f"{workdir}/meta") as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    self.meta[k] = v
        self.runs = read_tsv(f"{workdir}/runs.tsv", RUN_FIELDS)
        self.failures = read_tsv(
            f"{workdir}/failures.tsv",
            ["cfg", "batching", "tool", "round", "status", "acked", "written", "n", "why"],
        )
        self.configs = self.meta["CONFIGS"].split()
        self.tools = [t for t in TOOLS if t in self.meta["TOOLS"].split()]
        self.desc = {c: self.meta.get(f"DESC_{c}", c) for c in self.configs}
        self.skipped = {c: self.meta.get(f"SKIP_{c}", "").split() for c in self.configs}

    def medians(self, cfg, batching, tool):
        rs = [r for r in self.runs if r["cfg"] == cfg and r["batching"] == batching and r["tool"] == tool]
        if not rs:
            return None
        return {
            "rps": median([float(r["rps"]) for r in rs]),
            "p99": median([float(r["p99"]) for r in rs]),
            "cpu_us": median([float(r["cpu"]) * 1e6 / int(r["records"]) for r in rs]),
            "rss": median([int(r["rss_kb"]) / 1024 for r in rs]),
            "n": len(rs),
        }

    def cell(self, cfg, tool, m):
        if tool in self.skipped[cfg]:
            return "n/a"
        return "-" if m is None else None

    def table(self, batching):
        """One row per workload and tool; then the ratios of ours to the best peer."""
        out = [
            "| workload | tool | records/s | p99 ms | CPU us/record | peak RSS MiB | runs |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for cfg in self.configs:
            ms = {t: self.medians(cfg, batching, t) for t in self.tools}
            for i, t in enumerate(self.tools):
                m = ms[t]
                name = self.desc[cfg] if i == 0 else ""
                blank = self.cell(cfg, t, m)
                if blank:
                    out.append(f"| {name} | {TOOL_NAMES[t]} | {blank} | | | | 0 |")
                    continue
                out.append(
                    f"| {name} | {TOOL_NAMES[t]} | {fmt(m['rps'])} | {fmt(m['p99'])} | "
                    f"{fmt(m['cpu_us'], 2)} | {fmt(m['rss'])} | {m['n']} |"
                )
            ours = ms.get("ours")
            peers = [ms[t] for t in self.tools if t != "ours" and ms[t]]
            if ours and peers:
                best_rps = max(peers, key=lambda m: m["rps"])
                ratio = lambda a, b: "-" if not b else f"{a / b:.2f}"
                out.append(
                    f"| | **ours / best peer** | **{ratio(ours['rps'], best_rps['rps'])}** | "
                    f"{ratio(ours['p99'], min(m['p99'] for m in peers)) if min(m['p99'] for m in peers) > 0 else '-'} | "
                    f"{ratio(ours['cpu_us'], min(m['cpu_us'] for m in peers))} | "
                    f"{ratio(ours['rss'], min(m['rss'] for m in peers))} | |"
                )
        return "\n".join(out)

    def summary(self, batching):
        """The issue's layout: records/s (and CPU us/record) per workload, a column per tool."""
        head = "| workload | " + " | ".join(TOOL_NAMES[t] for t in self.tools) + " | ours / best peer |"
        out = [head, "|---|" + "---:|" * (len(self.tools) + 1)]
        for cfg in self.configs:
            ms = {t: self.medians(cfg, batching, t) for t in self.tools}
            cells = []
            for t in self.tools:
                m = ms[t]
                blank = self.cell(cfg, t, m)
                cells.append(blank or f"{fmt(m['rps'] / 1000)}k, {fmt(m['cpu_us'], 2)} us")
            peers = [ms[t]["rps"] for t in self.tools if t != "ours" and ms[t]]
            r = f"{ms['ours']['rps'] / max(peers):.2f}" if ms.get("ours") and peers else "-"
            out.append(f"| {self.desc[cfg]} | " + " | ".join(cells) + f" | {r} |")
        return "\n".join(out)

    def runs_table(self):
        out = [
            "| workload | batching | tool | round | records/s | MB/s | avg ms | max ms | p50 | p95 | p99 | p99.9 | CPU s | wall s | peak RSS MiB |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.runs:
            out.append(
                f"| {r['cfg']} | {r['batching']} | {r['tool']} | {r['round']} | {float(r['rps']):.0f} | {r['mbps']} | "
                f"{r['avg']} | {r['max']} | {r['p50']} | {r['p95']} | {r['p99']} | {r['p999']} | "
                f"{r['cpu']} | {r['wall']} | {int(r['rss_kb']) / 1024:.0f} |"
            )
        return "\n".join(out)

    def failures_table(self):
        out = [
            "| workload | batching | tool | round | exit status | records acknowledged | records in the topic | records sent | most frequent error (count) |",
            "|---|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for f in self.failures:
            out.append(
                f"| {f['cfg']} | {f['batching']} | {f['tool']} | {f['round']} | {f['status']} | {f['acked']} | "
                f"{f['written']} | {f['n']} | {f['why']} |"
            )
        return "\n".join(out)

    def print(self):
        titles = {
            "own": "Each client at its own defaults",
            "equal": f"All with the same batching ({self.meta.get('EQUAL_DESC', '')})",
        }
        for batching in self.meta["BATCHINGS"].split():
            print(f"## {titles[batching]}\n")
            print("Records/s and client CPU per record (medians):\n")
            print(self.summary(batching))
            print()
            print("All figures (medians; ratios: records/s ours over the fastest peer, the other columns")
            print("ours over the lowest peer; below 1 is better there):\n")
            print(self.table(batching))
            print()
        if self.failures:
            print("## Failed runs (left out of the medians)\n")
            print(self.failures_table())
            print()


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "payload":
        payload(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        Report(sys.argv[2]).print()
    elif len(sys.argv) == 3 and sys.argv[1] == "runs":
        print(Report(sys.argv[2]).runs_table())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
