"""The one family of errors raised by :mod:`geo`.

Every message names the file, row or field at fault and says what to do about it,
so the CLI and the app can show it to a user as it is.
"""

from __future__ import annotations


class GeoError(Exception):
    """Base of all errors raised by geo; messages name the file/row/field and the fix."""


class DataMissingError(GeoError):
    """The data directory has no dataset yet (run ``python -m geo generate``)."""


class SchemaError(GeoError):
    """A stored table is missing, has the wrong columns or comes from another schema version."""


class InputError(GeoError):
    """A user-supplied value (coordinate, time, filter, option) is not acceptable."""


class MapAssetError(GeoError):
    """A map element needs a web asset that has no local (vendored) copy."""
