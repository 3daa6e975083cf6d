"""Errors a retry of the call would only repeat, as opposed to faults of the machine running it:
the tile's data is unusable, a source refuses to be read, or the destination refuses the tile's
outputs."""

from collections.abc import Sequence
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
        # Lithops pickles exceptions raised in workers; keep both arguments across the trip,
        # and the attributes set after (the job's reads).
        return (type(self), (self.reason, str(self)), self.__dict__)


class DestinationWriteError(Exception):
    """An output could not be written to the destination: the disk is full, the folder or the
    bucket refuses writes, or the bucket is gone. A retry would pay for the tile's computation
    again and be refused again; the message names the output and the fix."""

    reason = "destination"


class SourceAccessError(Exception):
    """A source file's read was refused: access denied (HTTP 403), or credentials missing or
    not accepted. A retry would be refused again; the message names the file and the fix."""

    reason = "source_access"


#: Phrases of GDAL, boto3 and S3 saying that a read was refused, as GDAL 3.10 and botocore 1.44
#: gave them on a loopback 403 with S3's AccessDenied answer, and from moto's S3 enforcing IAM
#: policies (tests/test_accounting.py), unless said otherwise.
_REFUSED = (
    # GDAL's /vsis3/ reads raise S3's message as it is: "Access Denied".
    "Access Denied",
    # GDAL's /vsicurl/ reads, and /vsis3/ reads of a file GDAL already found refused in the
    # process: "HTTP response code: 403".
    "HTTP response code: 403",
    # boto3's error code: "An error occurred (AccessDenied) when calling the GetObject
    # operation: Access Denied".
    "AccessDenied",
    # urllib's HTTPError (annotations over http): "HTTP Error 403: Forbidden".
    "HTTP Error 403",
    # S3's codes (boto3) and messages (GDAL) for credentials it does not accept: a key it does
    # not know, a wrong secret; and, from S3's error reference (not seen here), an expired
    # session.
    "InvalidAccessKeyId",
    "The AWS Access Key Id you provided does not exist",
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match",
    "ExpiredToken",
    "The provided token has expired",
    # No credentials anywhere, before any request: GDAL's "AWS_SECRET_ACCESS_KEY and
    # AWS_NO_SIGN_REQUEST configuration options not defined, and ~/.aws/credentials not filled",
    # and botocore's NoCredentialsError, "Unable to locate credentials" (not seen here).
    "AWS_NO_SIGN_REQUEST configuration options not defined",
    "Unable to locate credentials",
)

#: The requester-pays bucket of the Sentinel-1 GRD scenes.
GRD_BUCKET = "sentinel-s1-l1c"


def refused_read(what: str, href: str, messages: Sequence[str]) -> SourceAccessError | None:
    """The error to raise if the ``messages`` of a failed read of ``href`` say it was refused:
    its message names the file, where it lies, and the fix."""
    text = "\n".join(messages)
    if not any(phrase in text for phrase in _REFUSED):
        return None
    scheme, _, rest = href.partition("://")
    place = rest.partition("/")[0]
    if scheme == "s3":
        fix = (
            f"Reads of the bucket {place} need AWS credentials in the standard chain "
            "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, a profile in "
            "~/.aws/credentials, or the role of the instance or Lambda function) whose account "
            f"may read it. The Sentinel-1 GRD bucket {GRD_BUCKET} is requester-pays: its reads "
            "must be signed, and are billed to your account, with AWS_REQUEST_PAYER=requester "
            "(RequestPayer=requester for boto3), as the workflow's Sentinel-1 jobs ask."
        )
    else:
        fix = (
            f"The host {place} refuses it: the file is not public, or no longer where the "
            "catalogue's item says."
        )
    return SourceAccessError(
        f"{what}: the read of {href} was refused ({messages[-1]}). {fix} "
        "Not retried: a retry would be refused again."
    )


#: Phrases saying that a remote read failed on the way, so that another try may succeed. They
#: win over the phrases below: a wrong ``bad_data`` would end a tile that a retry would produce.
_IN_TRANSIT = (
    # curl's own failures, as GDAL raises them: "CURL error: Failed to connect to 127.0.0.1 port
    # 9 after 0 ms: Could not connect to server", "CURL error: Recv failure: Connection reset by
    # peer", "CURL error: Operation timed out after 1003 milliseconds with 0 bytes received".
    "CURL error",
    # GDAL's /vsicurl/ (http and https URLs) on an error status of the opening request, after
    # its own retries: "HTTP response code: 503 - ...".
    "HTTP response code: 5",
    "HTTP response code: 429",
    # The message of S3's 503 SlowDown, which GDAL's /vsis3/ raises as it is.
    "Please reduce your request rate",
    # GDAL's /vsis3/ on an error whose body is not S3's XML (a proxy's or balancer's page):
    # "Invalid AWS response: ...".
    "Invalid AWS response",
    # libtiff when a tile's bytes did not all arrive: "TIFFFillTile:Read error at row 768, col
    # 768, tile 64; got 47712 bytes, expected 69303". Over HTTP and S3 this is all that is left of
    # a tile read that failed (503, SlowDown, reset, timeout): GDAL only warns of the status.
    "Read error at",
    # libtiff on the same short read of a part of the tile index it loads when needed:
    # "_TIFFPartialReadStripArray:Cannot read offset/size for strile around ~63".
    "Cannot read offset/size",
)

#: Phrases of GDAL, S3 and HTTP errors saying a file is not there (rather than that it could
#: not be fetched this time).
_ABSENT = (
    # GDAL's /vsicurl/ on a 404: "HTTP response code: 404".
    "HTTP response code: 404",
    # The file system's, and GDAL's for a path it cannot find: "No such file or directory".
    "No such file",
    # S3's messages, raised by GDAL's /vsis3/ as they are: "The specified key does not exist.",
    # "The specified bucket does not exist"; GDAL's own "... does not exist in the file system".
    "does not exist",
    # boto3's code of a GetObject on an absent key (Sentinel-1 annotations).
    "NoSuchKey",
    # boto3's HeadObject and urllib on a 404: "... (404) ...: Not Found", "HTTP Error 404: Not
    # Found".
    "Not Found",
)

#: Phrases saying that a file's bytes arrived and do not decode: the file itself is bad.
_UNDECODABLE = (
    # libtiff's codecs on tile bytes that do not decompress: "ZIPDecode:Decoding error at
    # scanline 768" (GDAL wraps it in "IReadBlock failed", which a failed request also gives).
    "Decoding error",
    # libtiff on an image directory it cannot read, e.g. in a file cut to its first 64 bytes:
    # "TIFFReadDirectory:Failed to read directory at offset 192". A COG's directories lie in its
    # first bytes, fetched by the request that opens the file, whose failure reads as itself.
    "TIFFReadDirectory",
)

#: GDAL on a file whose first bytes are in no format it knows (random bytes, an HTML page):
#: "'/vsis3/...' not recognized as being in a supported file format." Trusted over S3 only: over
#: /vsicurl/, GDAL asks for the size with a HEAD first, and when the GET after a HEAD that
#: succeeded fails (503, reset, timeout) it reads an empty file and says the same. (Its setting
#: CPL_VSIL_CURL_USE_HEAD=NO would make that GET report its failure, but at the price of an
#: aborted download, and a new connection, at every file opened.)
_NOT_A_RASTER = "supported file format"


def remote_read_fault(href: str, messages: Sequence[str]) -> str | None:
    """The :class:`TileDataError` reason of a failed read of the remote file ``href``, from the
    ``messages`` of the error and of the errors it was raised from: ``missing_data`` if the file
    is not there, ``bad_data`` if its bytes arrived and do not decode, None if the read failed on
    the way or the messages do not tell (a retry then costs a call, not the tile)."""
    text = "\n".join(messages)
    if any(phrase in text for phrase in _IN_TRANSIT):
        return None
    if any(phrase in text for phrase in _ABSENT):
        return "missing_data"
    undecodable = _UNDECODABLE + ((_NOT_A_RASTER,) if href.startswith("s3://") else ())
    if any(phrase in text for phrase in undecodable):
        return "bad_data"
    return None


def error_messages(err: BaseException) -> list[str]:
    """The messages of ``err`` and of the errors it was raised from, outermost first: rasterio's
    "Read failed. See previous exception for details." is raised from GDAL's own errors."""
    messages: list[str] = []
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        messages.append(str(cause))
        cause = cause.__cause__
    return messages


def read_error(what: str, href: str, err: Exception) -> Exception:
    """What to raise when ``href`` (``what``, e.g. "DEM cell N06W002") could not be read.

    A :class:`SourceAccessError` when a remote read was refused (:func:`refused_read`). A
    :class:`TileDataError` when the data is the problem: ``missing_data`` if the file is not
    there, ``bad_data`` if it is there but does not read (a local file that exists, a remote one
    as :func:`remote_read_fault` tells). Otherwise ``err`` itself: a timeout, a 503 or a dropped
    connection after GDAL's own retries is not the tile's fault, and the executor retries the
    call. The message names the file and GDAL's first complaint, the last of the chain.
    """
    messages = error_messages(err)
    if "://" in href and (refused := refused_read(what, href, messages)):
        return refused
    if "://" in href:
        reason = remote_read_fault(href, messages)
    else:
        reason = "bad_data" if Path(href).exists() else "missing_data"
    if reason is None:
        return err
    state = "is corrupt" if reason == "bad_data" else "is missing"
    return TileDataError(reason, f"{what} {state} at {href}: {messages[-1]}")
