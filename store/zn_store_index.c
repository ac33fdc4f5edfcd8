/* SPDX-License-Identifier: Apache-2.0 */
/* zn_store_index.c - the record header and index entries: extraction, keys and insertion. */
#include <errno.h>
#include <string.h>

#include "zn_le_int.h"
#include "zn_store_int.h"

int
zn_store_keys_add(zn_store_keys_t *keys, zn_buf_t value)
{
    if (value.len > ZN_STORE_INDEX_VALUE_MAX_BYTES) {
        return ZN_ETOOBIG;
    }
    if (value.len > 0 && memchr(value.ptr, '\0', value.len) != NULL) {
        return -EINVAL;
    }
    for (size_t i = 0; i < keys->count; i++) {
        if (keys->values[i].len == value.len &&
            (value.len == 0 || memcmp(keys->values[i].ptr, value.ptr, value.len) == 0)) {
            return 0;
        }
    }
    if (keys->count == ZN_STORE_INDEX_VALUES_MAX) {
        return ZN_ETOOBIG;
    }
    uint8_t *dest = keys->bytes + keys->used;
    if (value.len > 0) {
        memcpy(dest, value.ptr, value.len);
    }
    keys->values[keys->count].ptr = dest;
    keys->values[keys->count].len = value.len;
    keys->count++;
    keys->used += value.len;
    return 0;
}

int
zn__store_record_parse(const MDB_val *stored, zn_store_record_t *out)
{
    if (stored->mv_size < ZN__STORE_RECORD_HEADER_BYTES) {
        return -EBADMSG;
    }
    const uint8_t *p = stored->mv_data;
    out->generation = zn__le_get_u64(p);
    out->record_version = zn__le_get_u32(p + 8);
    out->value.ptr = p + ZN__STORE_RECORD_HEADER_BYTES;
    out->value.len = stored->mv_size - ZN__STORE_RECORD_HEADER_BYTES;
    return 0;
}

void
zn__store_record_header(uint8_t *dest, uint64_t generation, uint32_t version)
{
    zn__le_put_u64(dest, generation);
    zn__le_put_u32(dest + 8, version);
    zn__le_put_u32(dest + 12, 0);
}

int
zn__store_extract(const zn_store_index_t *index, zn_buf_t record, uint32_t version,
                  zn_store_keys_t *keys, zn_fault_t *fault)
{
    keys->count = 0;
    keys->used = 0;
    int rc = index->def->extract(record, version, keys, index->def->arg);
    if (rc < 0) {
        return zn_fault_set(fault, -EINVAL, "table %s index %s: record refused: %s",
                            index->table->def->name, index->def->name, zn_strerror(rc));
    }
    return 0;
}

void
zn__store_index_key(MDB_val *dest_key, uint8_t *dest, zn_buf_t value, zn_buf_t pk)
{
    if (value.len > 0) {
        memcpy(dest, value.ptr, value.len);
    }
    dest[value.len] = '\0';
    memcpy(dest + value.len + 1, pk.ptr, pk.len);
    dest_key->mv_data = dest;
    dest_key->mv_size = value.len + 1 + pk.len;
}

int
zn__store_index_insert_all(MDB_txn *txn, const zn_store_table_t *table, zn_buf_t pk,
                           const zn_store_record_t *record, zn_fault_t *fault)
{
    zn_store_keys_t keys;
    for (size_t i = 0; i < table->def->index_count; i++) {
        const zn_store_index_t *index = &table->indexes[i];
        int rc = zn__store_extract(index, record->value, record->record_version, &keys, fault);
        if (rc < 0) {
            return rc;
        }
        for (size_t k = 0; k < keys.count; k++) {
            uint8_t buf[ZN__STORE_INDEX_KEY_MAX_BYTES];
            MDB_val key;
            MDB_val empty = {0, NULL};
            zn__store_index_key(&key, buf, keys.values[k], pk);
            rc = zn__store_rc(mdb_put(txn, index->dbi, &key, &empty, 0));
            if (rc < 0) {
                return zn_fault_set(fault, rc, "index %s: put: %s", index->def->name,
                                    zn_strerror(rc));
            }
        }
    }
    return 0;
}
