"""Write the request's valid tiles in the old tiles-CSV format (Year,X,Y,Y_tile,X_tile)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from ttc_ard.request import load_request_tiles, write_tiles_csv

request = load_request_tiles(snakemake.input.request, snakemake.input.tiledb)
print(request.summary(), file=sys.stderr)
write_tiles_csv(request.tiles, snakemake.output[0])
