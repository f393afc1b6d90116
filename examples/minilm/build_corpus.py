"""Build the offline English sentence corpus for the MiniLM example (see ``edgekd.data.text_corpus`` for its source).

    python examples/minilm/build_corpus.py --out runs/minilm/corpus [--per-source 300] [--max-source-kb 200] [--force]

Writes train.txt / val.txt / test.txt (one sentence per line) and corpus.json (sizes, hashes, the distributions
the sentences came from) into ``--out``.
"""

from __future__ import annotations

import argparse
import sys

from edgekd.data.text_corpus import build_corpus, corpus_outputs, write_corpus
from edgekd.errors import EdgekdError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--per-source", type=int, default=300, help="at most this many sentences per distribution")
    ap.add_argument("--max-source-kb", type=int, default=200, help="kB of .py source read per distribution")
    ap.add_argument("--force", action="store_true", help="overwrite existing split files")
    args = ap.parse_args(argv)
    try:
        corpus_outputs(args.out, args.force)
        corpus = build_corpus(per_source=args.per_source, max_source_bytes=args.max_source_kb * 1000)
        paths = write_corpus(corpus, args.out, force=args.force)
    except EdgekdError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sizes = corpus.info()["sizes"]
    print(f"{sum(sizes.values())} sentences from {len(corpus.sources)} distributions: {sizes} -> {paths['info'].parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
