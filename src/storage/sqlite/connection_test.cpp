#include "storage/sqlite/connection.hpp"

#include <gtest/gtest.h>

#include <cstdint>
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

// The statement cache hashes only a few words of a text (sql::SqlTextHash): two texts alike at
// those words and of one length are still two statements.
TEST(SqliteConnection, TextsAlikeWhereTheCacheHashesThemAreTwoStatements) {
    ScopedTempDir dir;
    auto conn = Connection::Open(dir.path() + "/cache.db");
    ASSERT_TRUE(conn) << conn.error().message;
    const std::string a = "SELECT '" + std::string(100, '-') + "'";
    const size_t last = a.size() - sizeof(uint64_t);
    const size_t unsampled = last / 4 + sizeof(uint64_t) + 2;  // between two hashed words
    ASSERT_LT(unsampled + 1, last / 2);
    std::string b = a;
    b[unsampled] = '+';
    ASSERT_EQ(sql::SqlTextHash{}(a), sql::SqlTextHash{}(b));
    for (const std::string& text : {a, b, a, b}) {
        auto stmt = (*conn)->Prepare(text);
        ASSERT_TRUE(stmt) << stmt.error().message;
        auto row = stmt->Step();
        ASSERT_TRUE(row && *row);
        EXPECT_EQ("SELECT '" + stmt->Text(0) + "'", text);
    }
}

}  // namespace
}  // namespace noderepair::storage::sqlite
