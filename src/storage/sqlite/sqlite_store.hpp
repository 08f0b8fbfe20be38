// The SQLite backend: the shared group-committing store over one database file (WAL,
// synchronous=FULL), plus a checkpointer thread that moves the WAL into the database file.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "storage/sql/sql_store.hpp"
#include "storage/sqlite/connection.hpp"

namespace noderepair::storage::sqlite {

class SqliteStore final : public sql::SqlStore {
public:
    // `clock` stamps audit records; null: the system clock.
    static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, int max_batch,
                                                     size_t max_queued_writes = 1024,
                                                     const Clock* clock = nullptr,
                                                     bool throwaway = false);
    ~SqliteStore() override;
    void Close() override;

protected:
    Result<std::unique_ptr<sql::Connection>> Connect() override;
    // IMMEDIATE takes the write lock at once: a read-modify-write never fails half-way on it.
    const char* BeginWrite() const override { return "BEGIN IMMEDIATE"; }
    const char* BeginRead() const override { return "BEGIN"; }

private:
    SqliteStore(std::string path, std::unique_ptr<Connection> writer,
                std::unique_ptr<Connection> checkpointer, int max_batch, size_t max_queued_writes,
                const Clock* clock);
    void CheckpointLoop();

    const std::string path_;
    std::unique_ptr<Connection> checkpointer_;  // used by checkpoint_thread_ only
    std::mutex checkpoint_mu_;
    std::condition_variable checkpoint_cv_;  // wakes it to stop
    bool stopping_ = false;
    std::thread checkpoint_thread_;
};

}  // namespace noderepair::storage::sqlite
