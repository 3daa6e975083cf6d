"""The old command-line tool: the valid tiles of an inbound request as CSV.

python scripts/handle_inbound_request.py request.json --parquet tiledb.parquet [-o tiles.csv]
"""

import sys
from pathlib import Path

# Runs from a checkout without installing it, from any working directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ttc_ard.request import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
