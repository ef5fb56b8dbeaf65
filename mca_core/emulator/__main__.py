"""`python -m mca_core.emulator`: serve the sandbox Partner Center on loopback."""

from __future__ import annotations

import argparse
import sys

from .core import DEFAULT_CUSTOMERS, DEFAULT_SEED, Emulator
from .server import DEFAULT_HOST, DEFAULT_PORT, exposure_warning, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mca_core.emulator", description=__doc__)
    parser.add_argument("--data-dir", default=".mca/emulator", help="where the SQLite file lives")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--host", default=DEFAULT_HOST, help="default: loopback only")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--reset", action="store_true", help="wipe and reseed before serving")
    args = parser.parse_args(argv)
    emulator = Emulator(args.data_dir, customers=args.customers, seed=args.seed)
    if args.reset:
        emulator.reset()
    print(f"MCA sandbox Partner Center on http://{args.host}:{args.port} (data: {args.data_dir})")
    warning = exposure_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    try:
        serve(emulator, host=args.host, port=args.port)
    finally:
        emulator.close()


if __name__ == "__main__":
    main()
