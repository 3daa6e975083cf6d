"""Generate one Copernicus DEM cell of the demo archive: COG and STAC item."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from demo_archive.dem import write_dem_cell
from loaders.copdem import parse_cell_id

lat_floor, lon_floor = parse_cell_id(Path(snakemake.output.cog).stem)
write_dem_cell(lat_floor, lon_floor, snakemake.output.cog, snakemake.output.item)
