"""`python -m mca_core.emulator`: serve the sandbox Partner Center on loopback."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from mca_core.config import day_or_never_arg, error_status_arg, positive_int_arg

from .core import (
    DEFAULT_CLASSIC_REFUSAL_CODE,
    DEFAULT_CLASSIC_REFUSAL_STATUS,
    DEFAULT_CUSTOMERS,
    DEFAULT_RECORDS_PAGE_SIZE,
    DEFAULT_SEED,
    Emulator,
)
from .server import DEFAULT_HOST, DEFAULT_PORT, exposure_warning, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mca_core.emulator", description=__doc__)
    parser.add_argument("--data-dir", default=".mca/emulator", help="where the SQLite file lives")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--host", default=DEFAULT_HOST, help="default: loopback only")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--reset", action="store_true", help="wipe and reseed before serving")
    parser.add_argument(
        "--classic-retired-on",
        type=day_or_never_arg,
        default=date(2026, 1, 5),
        metavar="YYYY-MM-DD|never",
        help="refuse the classic attestation call from this day on the emulator's clock, as "
        "production does (Microsoft retired it on 2026-01-05; the default); never: a tenant "
        "that still accepts it",
    )
    parser.add_argument(
        "--classic-refusal-status",
        type=error_status_arg,
        default=DEFAULT_CLASSIC_REFUSAL_STATUS,
        help="HTTP status of that refusal (Microsoft's real one is not public)",
    )
    parser.add_argument(
        "--classic-refusal-code",
        type=int,
        default=DEFAULT_CLASSIC_REFUSAL_CODE,
        help="Partner Center error code of that refusal (an emulator choice)",
    )
    parser.add_argument(
        "--records-page-size",
        type=positive_int_arg,
        default=DEFAULT_RECORDS_PAGE_SIZE,
        help="agreement records a page (GET /v1/partners/customeragreementrecords)",
    )
    parser.add_argument(
        "--no-agreement-records",
        dest="agreement_records",
        action="store_false",
        help="answer the agreement records 404, as a partner without them",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    emulator = Emulator(
        args.data_dir,
        customers=args.customers,
        seed=args.seed,
        classic_retired_on=args.classic_retired_on,
        classic_refusal_status=args.classic_refusal_status,
        classic_refusal_code=args.classic_refusal_code,
        agreement_records=args.agreement_records,
        records_page_size=args.records_page_size,
    )
    if args.reset:
        emulator.reset()
    print(f"MCA sandbox Partner Center on http://{args.host}:{args.port} (data: {args.data_dir})")
    if emulator.classic_retired_on is not None:
        print(
            f"The classic attestation call is refused from {emulator.classic_retired_on} "
            f"(HTTP {emulator.classic_refusal_status} / {emulator.classic_refusal_code})."
        )
    warning = exposure_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    try:
        serve(emulator, host=args.host, port=args.port)
    finally:
        emulator.close()


if __name__ == "__main__":
    main()
