"""Errors a retry of the call would only repeat, as opposed to faults of the machine running it:
the tile's data is unusable, or the destination refuses the tile's outputs."""

from pathlib import Path


class TileDataError(Exception):
    """The tile cannot be produced from the data as it is: retrying gives the same answer.

    ``reason`` classifies it for the reports: ``missing_data`` (a source file is absent),
    ``bad_data`` (a source holds unusable values) or ``no_data`` (no scene covers the tile).
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):
        # Lithops pickles exceptions raised in workers; keep both arguments across the trip.
        return (type(self), (self.reason, str(self)))


class DestinationWriteError(Exception):
    """An output could not be written to the destination: the disk is full, the folder or the
    bucket refuses writes, or the bucket is gone. A retry would pay for the tile's computation
    again and be refused again; the message names the output and the fix."""

    reason = "destination"


#: Phrases of GDAL, S3 and HTTP errors saying a remote file is not there (rather than that it
#: could not be fetched this time).
_ABSENT = ("404", "No such file", "does not exist", "NoSuchKey", "Not Found")


def read_error(what: str, href: str, err: Exception) -> Exception:
    """What to raise when ``href`` (``what``, e.g. "DEM cell N06W002") could not be read.

    A :class:`TileDataError` when the data is the problem: ``missing_data`` if the file is not
    there, ``bad_data`` if a local file is there but does not read. Otherwise ``err`` itself: a
    timeout, a 503 or a dropped connection after GDAL's own retries is not the tile's fault,
    and the executor retries the call.
    """
    if "://" not in href:
        corrupt = Path(href).exists()
        return TileDataError(
            "bad_data" if corrupt else "missing_data",
            f"{what} {'is corrupt' if corrupt else 'is missing'} at {href}: {err}",
        )
    if any(phrase in str(err) for phrase in _ABSENT):
        return TileDataError("missing_data", f"{what} is missing at {href}: {err}")
    return err
