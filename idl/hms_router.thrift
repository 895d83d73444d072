// The part of the Hive Metastore Thrift interface that hms-router itself reads or writes, written
// for this project from the protocol's facts (method names, field ids, types). The router forwards
// every other method and field as raw bytes and does not need them here. The codec is hand-written
// (see docs/ARCHITECTURE.md); this file is the reference for the field ids that
// src/hms/catalog.ts, src/proxy and the tests use.

namespace java dev.hmsrouter.idl

exception MetaException {
  1: string message
}

exception NoSuchObjectException {
  1: string message
}

struct FieldSchema {
  1: string name,
  2: string type,
  3: string comment
}

struct SerDeInfo {
  1: string name,
  2: string serializationLib,
  3: map<string, string> parameters
}

struct StorageDescriptor {
  1: list<FieldSchema> cols,
  2: string location,
  3: string inputFormat,
  4: string outputFormat,
  5: bool compressed,
  6: i32 numBuckets,
  7: SerDeInfo serdeInfo,
  8: list<string> bucketCols,
  // 9: list<Order> sortCols, 10: map<string,string> parameters, 11, 12: forwarded untouched
}

struct Database {
  1: string name,
  2: string description,
  3: string locationUri,
  4: map<string, string> parameters,
  // 5: privileges, 6: ownerName, 7: ownerType
  8: optional string catalogName
}

struct Table {
  1: string tableName,
  2: string dbName,
  3: string owner,
  4: i32 createTime,
  5: i32 lastAccessTime,
  6: i32 retention,
  7: StorageDescriptor sd,
  8: list<FieldSchema> partitionKeys,
  9: map<string, string> parameters,
  12: string tableType,
  17: optional string catName
}

struct Partition {
  1: list<string> values,
  2: string dbName,
  3: string tableName,
  4: i32 createTime,
  5: i32 lastAccessTime,
  6: StorageDescriptor sd,
  7: map<string, string> parameters,
  9: optional string catName
}

struct GetTableRequest {
  1: required string dbName,
  2: required string tblName,
  4: optional string catName
}

service ThriftHiveMetastore {
  // The router sends set_ugi on each new pooled connection of an identity (a metastore binds the
  // identity to the connection).
  list<string> set_ugi(1: string user_name, 2: list<string> group_names) throws (1: MetaException o1)

  void create_database(1: Database database) throws (3: MetaException o3)
  Database get_database(1: string name) throws (1: NoSuchObjectException o1, 2: MetaException o2)
  void drop_database(1: string name, 2: bool deleteData, 3: bool cascade) throws (3: MetaException o3)
  list<string> get_all_databases() throws (1: MetaException o1)

  void create_table(1: Table tbl) throws (3: MetaException o3)
  Table get_table(1: string dbname, 2: string tbl_name) throws (1: MetaException o1, 2: NoSuchObjectException o2)

  i32 add_partitions(1: list<Partition> new_parts) throws (3: MetaException o3)
  list<string> get_partition_names(1: string db_name, 2: string tbl_name, 3: i16 max_parts)
    throws (1: NoSuchObjectException o1, 2: MetaException o2)
  list<Partition> get_partitions_by_names(1: string db_name, 2: string tbl_name, 3: list<string> names)
    throws (1: MetaException o1, 2: NoSuchObjectException o2)
}
