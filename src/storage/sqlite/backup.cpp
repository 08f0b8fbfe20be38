#include "storage/sqlite/backup.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

namespace noderepair::storage::sqlite {
namespace {

struct CloseDatabase {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DatabaseHandle = std::unique_ptr<sqlite3, CloseDatabase>;

Error SqliteFailure(sqlite3* db, int rc, const std::string& what) {
    std::string message = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR || rc == SQLITE_FULL) {
        return Unavailable(message);
    }
    return Internal(message);
}

Result<DatabaseHandle> OpenDatabase(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    DatabaseHandle db(raw);
    if (rc != SQLITE_OK) return SqliteFailure(raw, rc, "cannot open " + path);
    // The server's writer holds its lock for a commit at a time; wait that out.
    sqlite3_busy_timeout(db.get(), 5000);
    return db;
}

// Creates `path` only if nothing is there, so two backups, or a backup and anything else, never
// write into the same file. The empty file is an empty SQLite database.
Status CreateNewFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return AlreadyExists(path + " already exists; not overwriting it");
        return FailedPrecondition("cannot create " + path + ": " + std::strerror(errno));
    }
    ::close(fd);
    return OkStatus();
}

// Runs the backup steps; the caller owns both connections.
Result<BackupReport> CopyPages(sqlite3* from, sqlite3* to, const BackupOptions& options) {
    std::unique_ptr<sqlite3_backup, int (*)(sqlite3_backup*)> backup(
        sqlite3_backup_init(to, "main", from, "main"), sqlite3_backup_finish);
    if (!backup) return SqliteFailure(to, sqlite3_errcode(to), "cannot start the backup");
    BackupReport report;
    int last_remaining = -1;
    while (true) {
        const bool whole = report.restarts >= options.max_restarts;
        const int rc = sqlite3_backup_step(backup.get(), whole ? -1 : options.pages_per_step);
        ++report.steps;
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
            return SqliteFailure(to, rc, "backup step failed");
        }
        // Fewer pages left than before means progress; more (or as many after a successful
        // step) means the source changed and the copy started over.
        const int remaining = sqlite3_backup_remaining(backup.get());
        if (rc == SQLITE_OK && last_remaining >= 0 && remaining >= last_remaining) {
            ++report.restarts;
        }
        last_remaining = remaining;
        std::this_thread::sleep_for(options.pause);
    }
    report.pages = sqlite3_backup_pagecount(backup.get());
    const int rc = sqlite3_backup_finish(backup.release());
    if (rc != SQLITE_OK) return SqliteFailure(to, rc, "cannot finish the backup");
    return report;
}

}  // namespace

Result<BackupReport> Backup(const std::string& source, const std::string& target,
                            const BackupOptions& options) {
    if (options.pages_per_step < 1 || options.max_restarts < 0) {
        return InvalidArgument("pages_per_step must be at least 1 and max_restarts not negative");
    }
    std::error_code error;
    if (!std::filesystem::exists(source, error)) {
        return NotFound("database sqlite:" + source + " does not exist");
    }
    // Read-write without create: a source in WAL mode needs its -shm to read, and a missing
    // file must stay missing rather than become an empty database.
    NR_ASSIGN_OR_RETURN(DatabaseHandle from, OpenDatabase(source, SQLITE_OPEN_READWRITE));
    NR_RETURN_IF_ERROR(CreateNewFile(target));
    Result<BackupReport> report = [&]() -> Result<BackupReport> {
        NR_ASSIGN_OR_RETURN(DatabaseHandle to, OpenDatabase(target, SQLITE_OPEN_READWRITE));
        NR_ASSIGN_OR_RETURN(BackupReport copied, CopyPages(from.get(), to.get(), options));
        // Closing checks that the last write reached the file.
        if (int rc = sqlite3_close(to.release()); rc != SQLITE_OK) {
            return SqliteFailure(nullptr, rc, "cannot close " + target);
        }
        return copied;
    }();
    if (!report) {
        // The file is ours (created above), and half a copy is worse than none.
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            std::filesystem::remove(target + suffix, error);
        }
    }
    return report;
}

}  // namespace noderepair::storage::sqlite
