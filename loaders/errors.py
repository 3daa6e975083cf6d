"""Errors a loader raises about a tile's data, as opposed to faults of the machine running it."""


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
