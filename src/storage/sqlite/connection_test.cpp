#include "storage/sqlite/connection.hpp"

#include <gtest/gtest.h>

#include <string>

#include "storage/sqlite/wal_write_buffer.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::storage::sqlite {
namespace {

using test_support::ScopedTempDir;

// SQLite counts every allocation of the process under one mutex unless told not to before its
// first use; the store's writer is opened first, through the WAL write buffer, whose
// registration is itself a first use. Each test runs in a process of its own (ctest), so this
// one's writer is the process's first SQLite connection, as a server's is.
TEST(SqliteConnection, AllocationsAreNotCountedAfterTheWriterOpensFirst) {
    ScopedTempDir dir;
    auto writer = Connection::Open(dir.path() + "/counted.db", /*gather_wal_writes=*/true);
    ASSERT_TRUE(writer) << writer.error().message;
    ASSERT_TRUE((*writer)->Exec("CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT)"));
    ASSERT_TRUE((*writer)->Exec("INSERT INTO t VALUES('a', printf('%.500c', 'x'))"));
    sqlite3_int64 used = -1;
    sqlite3_int64 highest = -1;
    ASSERT_EQ(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &highest, 0), SQLITE_OK);
    EXPECT_EQ(used, 0) << "SQLite counts its allocations, under its global mutex";
}

}  // namespace
}  // namespace noderepair::storage::sqlite
