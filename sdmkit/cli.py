"""Command line: ``sdmkit datasets list|path NAME`` and ``sdmkit bench NAME``."""

from __future__ import annotations

import argparse
import sys


def _datasets_list(args) -> int:
    from .datasets import available, data_dir, registry

    rows = {}
    for entry in registry().values():
        rows.setdefault(entry.dataset, entry)
    where = data_dir()
    print(f"SDMKIT_DATA_DIR: {where or '(unset)'}")
    for name, entry in sorted(rows.items()):
        n = sum(1 for e in registry().values() if e.dataset == name)
        state = "available" if available(name) else "missing"
        print(f"\n{name}  [{state}, {n} files]")
        print(f"  licence:  {entry.licence}")
        print(f"  citation: {entry.citation}")
    return 0


def _datasets_path(args) -> int:
    from .datasets import fetch_dataset

    print(fetch_dataset(args.name))
    return 0


def _bench(args, extra: list[str]) -> int:
    """Run ``benchmarks/<name>.py`` of a source checkout (results go to benchmarks/results)."""
    import runpy
    from pathlib import Path

    script = Path(args.dir) / f"{args.name}.py"
    if not script.is_file():
        available = sorted(p.stem for p in Path(args.dir).glob("*.py"))
        print(f"No benchmark {args.name!r} in {Path(args.dir).resolve()}; available: "
              f"{available or 'none (run from a source checkout of sdmkit)'}", file=sys.stderr)
        return 2
    saved = sys.argv
    sys.argv = [str(script), *extra]  # the script's own options, e.g. --predict-test DIR
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sdmkit`` command."""
    parser = argparse.ArgumentParser(prog="sdmkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ds = sub.add_parser("datasets", help="registered datasets")
    ds_sub = ds.add_subparsers(dest="action", required=True)
    ds_sub.add_parser("list", help="each dataset, whether it is here, its licence and citation")
    p = ds_sub.add_parser("path", help="fetch a dataset and print its folder")
    p.add_argument("name")
    b = sub.add_parser("bench", help="run a benchmark script from benchmarks/")
    b.add_argument("name")
    b.add_argument("--dir", default="benchmarks", help="folder of benchmark scripts")
    args, extra = parser.parse_known_args(argv)
    if args.command == "bench":
        return _bench(args, extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "datasets":
        return {"list": _datasets_list, "path": _datasets_path}[args.action](args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
