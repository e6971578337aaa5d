"""The only package that reads and writes the data directory.

Split by concern (issue 14): :mod:`~geo.store.atomic` (fsync, write-by-rename, file names,
errors), :mod:`~geo.store.versions` (``CURRENT``, the write lock, committing, pruning),
:mod:`~geo.store.tables` (reading and writing tables of a version), :mod:`~geo.store.partitioned`
(hive-partitioned writes) and :mod:`~geo.store.reports` (reports and audit, SQLite). Every name
callers use is re-exported here: ``from geo import store; store.read_table(...)``.

Layout::

    data/
      CURRENT                  the id of the version in use (replaced atomically)
      versions/v0001/          one immutable dataset version
        manifest.json          schema version, source, seed, scale, row counts, time
        stations.parquet       GeoParquet (point geometry + lat/lng)
        workplaces.parquet     GeoParquet
        checkins.parquet       Parquet
        campaign.parquet       Parquet
        targets.parquet        Parquet
      reports.sqlite           courier reports and audit log (WAL mode)

A version is written into a hidden temporary directory, every file and directory of it
fsynced, renamed into place (and the ``versions`` directory fsynced), then ``CURRENT`` is
replaced by rename and the data directory fsynced: a crash or power loss at any point
leaves the previous version current and readable. Tables a new version does not change
are hard-linked from its base version. A change made by a person carries its audit entry
inside the version (``audit.json``, written before the switch); :func:`prune_versions`
removes old versions. Version ids are checked by :func:`check_version_id` wherever one
comes in; a failed write (a full disk) raises :class:`WriteError`.
"""

from __future__ import annotations

from geo.store.atomic import AUDIT_FILE as AUDIT_FILE
from geo.store.atomic import CURRENT_FILE as CURRENT_FILE
from geo.store.atomic import LOCK_FILE as LOCK_FILE
from geo.store.atomic import MANIFEST_FILE as MANIFEST_FILE
from geo.store.atomic import PINNED_FILE as PINNED_FILE
from geo.store.atomic import REPORTS_DB as REPORTS_DB
from geo.store.atomic import StaleBaseError as StaleBaseError
from geo.store.atomic import WriteError as WriteError
from geo.store.atomic import atomic_write_bytes as atomic_write_bytes
from geo.store.atomic import check_version_id as check_version_id
from geo.store.atomic import fsync_dir as fsync_dir
from geo.store.atomic import fsync_tree as fsync_tree
from geo.store.atomic import sha256_of as sha256_of
from geo.store.partitioned import write_partitioned as write_partitioned
from geo.store.reports import REPORT_WINDOW_S as REPORT_WINDOW_S
from geo.store.reports import REPORTS_BUSY_TIMEOUT_MS as REPORTS_BUSY_TIMEOUT_MS
from geo.store.reports import RateLimited as RateLimited
from geo.store.reports import ReportLimits as ReportLimits
from geo.store.reports import ReportsReader as ReportsReader
from geo.store.reports import _ready_dbs as _ready_dbs
from geo.store.reports import add_report as add_report
from geo.store.reports import append_audit as append_audit
from geo.store.reports import client_id as client_id
from geo.store.reports import insert_report as insert_report
from geo.store.reports import read_audit as read_audit
from geo.store.reports import read_reports as read_reports
from geo.store.reports import set_report_status as set_report_status
from geo.store.tables import PARTITION_COLUMNS as PARTITION_COLUMNS
from geo.store.tables import PARTITION_GLOB as PARTITION_GLOB
from geo.store.tables import SORTED_BY_KEY as SORTED_BY_KEY
from geo.store.tables import SORTED_ROW_GROUP_ROWS as SORTED_ROW_GROUP_ROWS
from geo.store.tables import _write_table as _write_table
from geo.store.tables import check_columns as check_columns
from geo.store.tables import dataset_root as dataset_root
from geo.store.tables import is_partitioned_path as is_partitioned_path
from geo.store.tables import partitioned_dir as partitioned_dir
from geo.store.tables import read_sorted as read_sorted
from geo.store.tables import read_table as read_table
from geo.store.tables import table_path as table_path
from geo.store.tables import write_arrow as write_arrow
from geo.store.tables import write_version as write_version
from geo.store.versions import clean_temporaries as clean_temporaries
from geo.store.versions import current_version as current_version
from geo.store.versions import dataset_key as dataset_key
from geo.store.versions import has_data as has_data
from geo.store.versions import list_version_ids as list_version_ids
from geo.store.versions import list_versions as list_versions
from geo.store.versions import pinned_versions as pinned_versions
from geo.store.versions import protected_versions as protected_versions
from geo.store.versions import prune_versions as prune_versions
from geo.store.versions import read_manifest as read_manifest
from geo.store.versions import read_version_audit as read_version_audit
from geo.store.versions import set_current as set_current
from geo.store.versions import version_dir as version_dir
from geo.store.versions import write_lock as write_lock
