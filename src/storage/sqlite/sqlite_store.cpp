#include "storage/sqlite/sqlite_store.hpp"

#include <chrono>
#include <cstdio>
#include <utility>

#include "common/thread_name.hpp"
#include "storage/sqlite/schema.hpp"

namespace noderepair::storage::sqlite {
namespace {

// What a throw-away database (the policy replay's scratch store) does without. Indexes that
// only the API's lists and the engine read (by cluster and create or update time, by
// instance and create or update time, the engine's working set, alerts by cluster): the policy
// engine's own queries are answered by the ones left (remediations by instance and end time,
// the active ones, those waiting for approval; alerts by fingerprint, remediation, instance and
// the waiting ones), and every insert or state change paid for each of them. The per-state
// counts (the triggers' remediation_counts) are aggregates nobody reads there either. No
// unique index goes: every constraint of the store contract still holds.
constexpr const char* kThrowawayDrops =
    "DROP INDEX remediations_by_cluster_create; DROP INDEX remediations_by_cluster_update; "
    "DROP INDEX remediations_by_instance_create; DROP INDEX remediations_by_instance_update; "
    "DROP INDEX remediations_working; "
    "DROP INDEX alerts_by_cluster; DROP TRIGGER remediation_counted; "
    "DROP TRIGGER remediation_recounted; DROP TRIGGER remediation_uncounted";

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, int max_batch,
                                                       size_t max_queued_writes, const Clock* clock,
                                                       bool throwaway) {
    // The writer's WAL writes are gathered into one per commit (wal_write_buffer.hpp): only
    // where every commit syncs, which a throw-away database's do not.
    NR_ASSIGN_OR_RETURN(auto writer, Connection::Open(path, /*gather_wal_writes=*/!throwaway));
    NR_RETURN_IF_ERROR(Migrate(*writer));
    // Nobody is answered from a throw-away database: a commit need not reach the disk.
    if (throwaway) NR_RETURN_IF_ERROR(writer->Exec("PRAGMA synchronous=OFF"));
    // Statement journals of big transactions (a fleet import) stay in memory, not in temp files.
    NR_RETURN_IF_ERROR(writer->Exec("PRAGMA temp_store=MEMORY"));
    // Commits never checkpoint: the checkpointer thread copies the WAL into the database file
    // in the background, so a commit's latency is its own fsync only. A throw-away database's
    // writer commits back to back, so the background copy never completes and the WAL grew
    // without end (735 MB after 200,000 replayed signals, bench/RESULTS.md): there the writer
    // checkpoints as it commits, SQLite's default, which keeps the WAL a few MB.
    NR_RETURN_IF_ERROR(
        writer->Exec(throwaway ? "PRAGMA wal_autocheckpoint=1000" : "PRAGMA wal_autocheckpoint=0"));
    if (throwaway) {
        NR_RETURN_IF_ERROR(writer->Exec(kThrowawayDrops));
        // Its pages are read again and again and it lives for one replay: a larger cache (256
        // MiB instead of 32) saved a fifth of a 300,000-signal replay's CPU (bench/RESULTS.md).
        NR_RETURN_IF_ERROR(writer->Exec("PRAGMA cache_size=-262144"));
    }
    NR_ASSIGN_OR_RETURN(auto checkpointer, Connection::Open(path));
    std::unique_ptr<SqliteStore> store(new SqliteStore(
        path, std::move(writer), std::move(checkpointer), max_batch, max_queued_writes, clock));
    if (throwaway) store->Throwaway();
    return store;
}

SqliteStore::SqliteStore(std::string path, std::unique_ptr<Connection> writer,
                         std::unique_ptr<Connection> checkpointer, int max_batch,
                         size_t max_queued_writes, const Clock* clock)
    : SqlStore(std::move(writer), max_batch, max_queued_writes, clock),
      path_(std::move(path)),
      checkpointer_(std::move(checkpointer)) {
    checkpoint_thread_ = std::thread([this] {
        NameThisThread("nr-checkpoint");
        CheckpointLoop();
    });
    StartWriter();
}

Result<std::unique_ptr<sql::Connection>> SqliteStore::Connect() {
    NR_ASSIGN_OR_RETURN(auto conn, Connection::Open(path_));
    return std::unique_ptr<sql::Connection>(std::move(conn));
}

void SqliteStore::CheckpointLoop() {
    // Every 250 ms rather than every 50: a page the writer rewrites all the time (the tail of
    // a table or an index, the counts) is copied once per checkpoint, so fewer checkpoints copy
    // fewer pages per write (the checkpointer's CPU per durable create fell from 5.0-6.5 to
    // 3.4-3.6 us, bench/RESULTS.md); the WAL between two of them stays a few MB.
    constexpr auto kCheckpointEvery = std::chrono::milliseconds(250);
    std::unique_lock lock(checkpoint_mu_);
    while (!stopping_) {
        checkpoint_cv_.wait_for(lock, kCheckpointEvery);
        if (stopping_) break;
        lock.unlock();
        // PASSIVE never waits for readers or the writer: it copies what it can now.
        int log_frames = 0;
        int copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(checkpointer_->handle(), nullptr,
                                           SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
            std::fprintf(stderr, "noderepair: WAL checkpoint failed: %s\n", sqlite3_errstr(rc));
        }
        lock.lock();
    }
}

SqliteStore::~SqliteStore() { Close(); }

void SqliteStore::Close() {
    SqlStore::Close();
    {
        std::lock_guard lock(checkpoint_mu_);
        stopping_ = true;
    }
    checkpoint_cv_.notify_all();
    if (checkpoint_thread_.joinable()) {
        checkpoint_thread_.join();
        // A last full copy, so the next start does not begin with a long WAL.
        sqlite3_wal_checkpoint_v2(checkpointer_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                  nullptr, nullptr);
    }
}

}  // namespace noderepair::storage::sqlite
