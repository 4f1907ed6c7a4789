"""Security and privacy for the warehouse: encrypted, lock-aware connections; API keys and roles;
masking for analysts; the audit log; erasure and the suppression list.

Public API (import from here):
    open_warehouse(path, read_only=False, wait_seconds=5.0) -> duckdb connection
    warehouse_session(path, read_only=True) / write_transaction(path)   (context managers)
    encrypt_warehouse(source, target, key=None)
    Principal, ROLES, PERMISSIONS, PermissionDenied
    create_api_key(con, name, role) -> (key_id, token); revoke_api_key; list_api_keys; load_active_keys; authenticate
    mask_record(dict); create_masked_catalog(con, source_catalog); check_select_only(con, sql, forbidden)
    AuditLog(warehouse).record(principal, action, customer_ids, detail) / .flush(); read_audit(con, ...)
    erase_customer(con, customer_id, raw_tables) -> ErasureReport; purge_suppressed_raw(con, raw_tables)
    suppressed(con, staged_frame) -> pd.Series[bool]
"""
from warehouse.security.audit import AuditLog, ensure_audit_table, read_audit, spool_dir_for
from warehouse.security.connect import (
    CATALOG, KEY_ENV, EncryptionSetupError, WarehouseBusy, WarehouseMissing, attach_read_only, encrypt_warehouse,
    is_lock_error, open_warehouse, path_guard, table_columns, table_exists, warehouse_session, write_transaction,
)
from warehouse.security.erasure import (
    CustomerNotFound, ErasureConfigError, ErasureReport, RawTable, RawTables, erase_customer, purge_suppressed_raw,
    raw_specs,
)
from warehouse.security.keys import (
    authenticate, create_api_key, ensure_keys_table, hash_key, list_api_keys, load_active_keys, revoke_api_key,
)
from warehouse.security.masking import (
    QueryRejected, check_select_only, create_masked_catalog, install_mask_macros, lock_down, mask_email,
    mask_national_id, mask_phone,
    mask_record,
)
from warehouse.security.roles import MASKED_ROLES, PERMISSIONS, ROLES, PermissionDenied, Principal, check_role
from warehouse.security.suppression import HASH_KEY_ENV, HashKeyMissing, keyed_hash, keyed_hash_sql, suppressed


def ensure_ops_tables(con) -> None:
    """Create ops.api_keys, ops.audit_log and ops.suppression if missing (needs the writer)."""
    from warehouse.security.suppression import ensure_suppression_table

    ensure_keys_table(con)
    ensure_audit_table(con)
    ensure_suppression_table(con)
