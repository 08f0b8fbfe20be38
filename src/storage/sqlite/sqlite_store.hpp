// The SQLite backend: one writer thread that group-commits queued changes (WAL,
// synchronous=FULL), a checkpointer thread that moves the WAL into the database file, and a
// pool of read connections used by the calling threads. The write queue is bounded for the
// writes of HTTP requests (docs/http-api.md 10); background work (the engine, the automation)
// bounds itself by its own thread counts and is always queued.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite/connection.hpp"
#include "storage/store.hpp"

namespace noderepair::storage::sqlite {

class SqliteStore final : public Store {
public:
    // `clock` stamps audit records; null: the system clock.
    static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, int max_batch,
                                                     size_t max_queued_writes = 1024,
                                                     const Clock* clock = nullptr);
    ~SqliteStore() override;

    void Write(TxnWork work, CommitCallback done) override;
    void AddObserver(CommitObserver* observer) override;
    Status Read(const std::function<Status(Reader&)>& read) override;
    void Close() override;

private:
    struct PendingWrite {
        TxnWork work;
        CommitCallback done;
        std::string request_id;  // of the HTTP request that queued it
        std::string actor;       // who queued it, for its audit records
    };

    SqliteStore(std::string path, std::unique_ptr<Connection> writer,
                std::unique_ptr<Connection> checkpointer, int max_batch, size_t max_queued_writes,
                const Clock* clock);
    void WriterLoop();
    void CheckpointLoop();
    void CommitBatch(std::vector<PendingWrite>& batch);
    Result<std::unique_ptr<Connection>> AcquireReader();
    void ReleaseReader(std::unique_ptr<Connection> conn);

    const std::string path_;
    const size_t max_batch_;
    const size_t max_queued_writes_;
    const SystemClock system_clock_{};
    const Clock& clock_;
    std::unique_ptr<Connection> writer_;

    std::mutex queue_mu_;
    std::condition_variable queue_cv_;
    std::deque<PendingWrite> queue_;
    bool closing_ = false;
    std::thread writer_thread_;
    std::unique_ptr<Connection> checkpointer_;  // used by checkpoint_thread_ only
    std::condition_variable checkpoint_cv_;     // wakes it to stop
    std::thread checkpoint_thread_;

    std::mutex observers_mu_;
    std::vector<CommitObserver*> observers_;

    std::mutex readers_mu_;
    std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace noderepair::storage::sqlite
