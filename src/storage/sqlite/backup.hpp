// `noderepair db backup`: an online, consistent copy of a SQLite database that a server may be
// writing, with SQLite's backup API (README "CLI": db backup).
#pragma once

#include <chrono>
#include <string>

#include "common/status.hpp"

namespace noderepair::storage::sqlite {

struct BackupOptions {
    // Pages copied under one read lock of the source. A step only reads; in WAL mode it never
    // blocks the writer, but it holds back checkpoints while it runs, so steps stay short.
    int pages_per_step = 1024;
    // Between steps, so the copy does not take a whole core from a busy server.
    std::chrono::milliseconds pause = std::chrono::milliseconds(1);
    // A change to the source between steps restarts the copy from the first page. After this
    // many restarts the rest is copied in one step, from one snapshot, so a server that never
    // stops writing cannot keep the backup from finishing.
    int max_restarts = 3;
};

struct BackupReport {
    int pages = 0;     // pages in the copy
    int steps = 0;     // calls to sqlite3_backup_step
    int restarts = 0;  // times a change to the source started the copy again
};

// Copies the database at `source` (it must exist) into a new file `target`: a file that already
// exists is refused with ALREADY_EXISTS and left as it was. On failure no target is left
// behind. The copy is one consistent snapshot of the source, with its journal mode.
Result<BackupReport> Backup(const std::string& source, const std::string& target,
                            const BackupOptions& options = {});

}  // namespace noderepair::storage::sqlite
