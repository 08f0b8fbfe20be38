#include "storage/sqlite/wal_write_buffer.hpp"

#include <gtest/gtest.h>

#include <string>

#include "storage/sqlite/connection.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::storage::sqlite {
namespace {

using test_support::ScopedTempDir;

int64_t CountRows(Connection& conn, const std::string& where = "1") {
    auto stmt = conn.Prepare("SELECT count(*) FROM t WHERE " + where);
    EXPECT_TRUE(stmt) << stmt.error().message;
    if (!stmt) return -1;
    auto row = stmt->Step();
    EXPECT_TRUE(row && *row);
    return stmt->Int(0);
}

std::string IntegrityCheck(Connection& conn) {
    auto stmt = conn.Prepare("PRAGMA integrity_check");
    if (!stmt) return stmt.error().message;
    auto row = stmt->Step();
    return row && *row ? stmt->Text(0) : "no answer";
}

class WalWriteBufferTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto writer = Connection::Open(path_, /*gather_wal_writes=*/true);
        ASSERT_TRUE(writer) << writer.error().message;
        writer_ = std::move(*writer);
        ASSERT_TRUE(writer_->Exec("PRAGMA wal_autocheckpoint=0"));
        ASSERT_TRUE(writer_->Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v TEXT)"));
        ASSERT_TRUE(writer_->Exec("CREATE INDEX t_k ON t(k)"));
        auto reader = Connection::Open(path_);
        ASSERT_TRUE(reader) << reader.error().message;
        reader_ = std::move(*reader);
    }

    // Inserts rows first..first+n-1 with 1 KiB values and keys that land all over the index.
    void Insert(int first, int n) {
        for (int i = first; i < first + n; ++i) {
            auto stmt = writer_->Prepare(
                "INSERT INTO t(id, k, v) VALUES(?1, printf('%08x', (?1 * 2654435761) % "
                "4294967296), zeroblob(1024))");
            ASSERT_TRUE(stmt) << stmt.error().message;
            stmt->Bind(1, int64_t(i));
            auto done = stmt->Run();
            ASSERT_TRUE(done) << done.error().message;
        }
    }

    ScopedTempDir dir_;
    std::string path_ = dir_.path() + "/wal.db";
    std::unique_ptr<Connection> writer_;
    std::unique_ptr<Connection> reader_;
};

// A commit of many pages reaches the WAL file in a few writes, not two per page, and a
// reader on a connection of its own sees all of it once the commit returned.
TEST_F(WalWriteBufferTest, ACommitIsOneWriteAndEveryOtherConnectionSeesIt) {
    ASSERT_TRUE(writer_->Exec("BEGIN IMMEDIATE"));
    Insert(0, 300);  // 300 KiB of values: about 80 pages
    const uint64_t before = WalWritesIssued();
    ASSERT_TRUE(writer_->Exec("COMMIT"));
    // About 100 frames: two writes each without gathering, 31 frames per write with it.
    EXPECT_LE(WalWritesIssued() - before, 6u);
    EXPECT_EQ(CountRows(*reader_), 300);
    EXPECT_EQ(IntegrityCheck(*reader_), "ok");
}

// Pages a transaction spills into the WAL before its end, and frames a savepoint's rollback
// takes back, end as SQLite meant them: only what was committed is read, by anyone.
TEST_F(WalWriteBufferTest, SpilledAndRolledBackFramesLeaveOnlyWhatWasCommitted) {
    ASSERT_TRUE(writer_->Exec("PRAGMA cache_size=10"));  // a small cache spills into the WAL
    ASSERT_TRUE(writer_->Exec("BEGIN IMMEDIATE"));
    Insert(0, 200);
    ASSERT_TRUE(writer_->Exec("ROLLBACK"));
    ASSERT_TRUE(writer_->Exec("BEGIN IMMEDIATE"));
    Insert(1000, 100);
    ASSERT_TRUE(writer_->Exec("SAVEPOINT s"));
    Insert(2000, 200);
    ASSERT_TRUE(writer_->Exec("ROLLBACK TO s"));
    ASSERT_TRUE(writer_->Exec("RELEASE s"));
    Insert(3000, 50);
    ASSERT_TRUE(writer_->Exec("COMMIT"));
    EXPECT_EQ(CountRows(*reader_), 150);
    EXPECT_EQ(CountRows(*reader_, "id < 1000 OR (id >= 2000 AND id < 3000)"), 0);
    EXPECT_EQ(CountRows(*writer_), 150);
    EXPECT_EQ(IntegrityCheck(*reader_), "ok");
    // The checkpointer's copy into the database file reads the frames back.
    ASSERT_TRUE(reader_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    EXPECT_EQ(IntegrityCheck(*reader_), "ok");
    EXPECT_EQ(CountRows(*reader_), 150);
}

}  // namespace
}  // namespace noderepair::storage::sqlite
