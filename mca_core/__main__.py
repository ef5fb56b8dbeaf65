"""`python -m mca_core ...`: see `mca_core.cli.main` (its docstring has the exit-code table)."""

import sys

try:
    from mca_core.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while the desk was still loading: exit 130, as main() does
    if any(arg.startswith("--j") and "--json".startswith(arg) for arg in sys.argv[1:]):
        print('{"error": "interrupted", "message": "Interrupted."}')
    print("Interrupted.", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
