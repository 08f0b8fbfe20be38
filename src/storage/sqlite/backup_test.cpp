#include "storage/sqlite/backup.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "storage/store_contract_test.hpp"

namespace noderepair::storage::sqlite {
namespace {

using test_support::ScopedTempDir;

class Db {
public:
    explicit Db(const std::string& path) {
        EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
        sqlite3_busy_timeout(db_, 5000);
    }
    ~Db() { sqlite3_close(db_); }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    void Exec(const std::string& sql) {
        char* message = nullptr;
        int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
        EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (message ? message : "");
        sqlite3_free(message);
    }
    int64_t Count(const std::string& table) {
        sqlite3_stmt* stmt = nullptr;
        EXPECT_EQ(
            sqlite3_prepare_v2(db_, ("SELECT count(*) FROM " + table).c_str(), -1, &stmt, nullptr),
            SQLITE_OK);
        EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
        int64_t n = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
        return n;
    }

private:
    sqlite3* db_ = nullptr;
};

// Rows of `pad` bytes in two tables, one transaction per pair: a consistent copy has as many
// of each.
void CreatePairs(Db& db) {
    db.Exec("PRAGMA journal_mode=WAL");
    db.Exec("CREATE TABLE a (n INTEGER PRIMARY KEY, pad BLOB)");
    db.Exec("CREATE TABLE b (n INTEGER PRIMARY KEY, pad BLOB)");
}
void InsertPair(Db& db, int n) {
    db.Exec("BEGIN; INSERT INTO a VALUES (" + std::to_string(n) + ", randomblob(600)); " +
            "INSERT INTO b VALUES (" + std::to_string(n) + ", randomblob(600)); COMMIT");
}

TEST(SqliteBackup, CopiesWhatIsStillOnlyInTheWriteAheadLog) {
    ScopedTempDir dir;
    const std::string source = dir.path() + "/live.db";
    Db live(source);
    CreatePairs(live);
    live.Exec("PRAGMA wal_autocheckpoint=0");
    for (int n = 0; n < 50; ++n) InsertPair(live, n);

    auto report = Backup(source, dir.path() + "/copy.db");
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_GT(report->pages, 0);
    Db copy(dir.path() + "/copy.db");
    EXPECT_EQ(copy.Count("a"), 50);
    EXPECT_EQ(copy.Count("b"), 50);
}

TEST(SqliteBackup, RefusesAnExistingTargetAndLeavesIt) {
    ScopedTempDir dir;
    const std::string source = dir.path() + "/live.db";
    Db live(source);
    CreatePairs(live);
    const std::string target = dir.path() + "/taken";
    std::ofstream(target) << "keep me";

    auto report = Backup(source, target);
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().code, Code::kAlreadyExists);
    EXPECT_NE(report.error().message.find("already exists"), std::string::npos);
    std::ifstream in(target);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "keep me");
}

TEST(SqliteBackup, AMissingSourceIsNotFoundAndCreatesNothing) {
    ScopedTempDir dir;
    auto report = Backup(dir.path() + "/missing.db", dir.path() + "/copy.db");
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().code, Code::kNotFound);
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/missing.db"));
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/copy.db"));
}

TEST(SqliteBackup, AWriterThatNeverStopsGetsAConsistentCopyAndIsNotHeldUp) {
    ScopedTempDir dir;
    const std::string source = dir.path() + "/live.db";
    Db setup(source);
    CreatePairs(setup);
    for (int n = 0; n < 400; ++n) InsertPair(setup, n);

    std::atomic<bool> stop{false};
    std::atomic<int> written{400};
    std::thread writer([&] {
        Db db(source);
        while (!stop) InsertPair(db, written++);
    });
    // One page per step: every write between steps restarts the copy, until the copy falls
    // back to one snapshot.
    BackupOptions options{.pages_per_step = 1, .max_restarts = 3};
    const int before = written;
    auto report = Backup(source, dir.path() + "/copy.db", options);
    const int during = written - before;
    stop = true;
    writer.join();

    ASSERT_TRUE(report) << report.error().message;
    EXPECT_GE(report->restarts, options.max_restarts);
    EXPECT_GT(during, 0) << "the writer committed while the backup ran";
    Db copy(dir.path() + "/copy.db");
    const int64_t pairs = copy.Count("a");
    EXPECT_EQ(copy.Count("b"), pairs);
    EXPECT_GE(pairs, 400);
    EXPECT_LE(pairs, written.load());
}

}  // namespace
}  // namespace noderepair::storage::sqlite
