#include "storage/sqlite/wal_write_buffer.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace noderepair::storage::sqlite {
namespace {

constexpr char kName[] = "nr-wal-write-buffer";
// Past this a gathering is written out before it grows further. SQLite's unix VFS writes at
// most this much per system call (it masks the length with 0x1ffff), so a longer gathering
// would be cut short: 31 frames of 4 KiB pages per write.
constexpr size_t kMaxGathered = 0x1ffff;

sqlite3_vfs* base_vfs = nullptr;
std::atomic<uint64_t> writes_issued{0};

// SQLite allocates szOsFile bytes for each open file: this header, then the base VFS's file.
struct GatheringFile {
    sqlite3_file file;   // pMethods points at kMethods
    sqlite3_file* base;  // the base VFS's file, right after this header
    bool gathers;        // a WAL file: writes are gathered
    char* data;          // the gathered bytes, to be written at `start`
    size_t size;
    size_t capacity;
    sqlite3_int64 start;
};

GatheringFile* Of(sqlite3_file* file) { return reinterpret_cast<GatheringFile*>(file); }
sqlite3_file* Base(sqlite3_file* file) { return Of(file)->base; }

int WriteOut(GatheringFile* f) {
    if (f->size == 0) return SQLITE_OK;
    const int rc = f->base->pMethods->xWrite(f->base, f->data, int(f->size), f->start);
    f->size = 0;
    writes_issued.fetch_add(1, std::memory_order_relaxed);
    return rc;
}

int Close(sqlite3_file* file) {
    GatheringFile* f = Of(file);
    const int written = WriteOut(f);
    const int rc = f->base->pMethods->xClose(f->base);
    std::free(f->data);
    f->data = nullptr;
    return written != SQLITE_OK ? written : rc;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
    if (int rc = WriteOut(Of(file)); rc != SQLITE_OK) return rc;
    return Base(file)->pMethods->xRead(Base(file), out, amount, offset);
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
    GatheringFile* f = Of(file);
    if (!f->gathers) return f->base->pMethods->xWrite(f->base, data, amount, offset);
    const size_t n = size_t(amount);
    const bool follows = f->size > 0 && offset == f->start + sqlite3_int64(f->size);
    if (f->size > 0 && (!follows || f->size + n > kMaxGathered)) {
        if (int rc = WriteOut(f); rc != SQLITE_OK) return rc;
    }
    if (f->data == nullptr && n < kMaxGathered) {
        f->data = static_cast<char*>(std::malloc(kMaxGathered));
    }
    // Too big to gather, or no memory to gather in: written as it comes.
    if (n >= kMaxGathered || f->data == nullptr) {
        writes_issued.fetch_add(1, std::memory_order_relaxed);
        return f->base->pMethods->xWrite(f->base, data, amount, offset);
    }
    if (f->size == 0) f->start = offset;
    std::memcpy(f->data + f->size, data, n);
    f->size += n;
    return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
    if (int rc = WriteOut(Of(file)); rc != SQLITE_OK) return rc;
    return Base(file)->pMethods->xTruncate(Base(file), size);
}

int Sync(sqlite3_file* file, int flags) {
    if (int rc = WriteOut(Of(file)); rc != SQLITE_OK) return rc;
    return Base(file)->pMethods->xSync(Base(file), flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
    if (int rc = WriteOut(Of(file)); rc != SQLITE_OK) return rc;
    return Base(file)->pMethods->xFileSize(Base(file), size);
}

int Lock(sqlite3_file* file, int level) { return Base(file)->pMethods->xLock(Base(file), level); }

int Unlock(sqlite3_file* file, int level) {
    return Base(file)->pMethods->xUnlock(Base(file), level);
}

int CheckReservedLock(sqlite3_file* file, int* out) {
    return Base(file)->pMethods->xCheckReservedLock(Base(file), out);
}

int FileControl(sqlite3_file* file, int op, void* arg) {
    if (int rc = WriteOut(Of(file)); rc != SQLITE_OK) return rc;
    return Base(file)->pMethods->xFileControl(Base(file), op, arg);
}

int SectorSize(sqlite3_file* file) { return Base(file)->pMethods->xSectorSize(Base(file)); }

int DeviceCharacteristics(sqlite3_file* file) {
    return Base(file)->pMethods->xDeviceCharacteristics(Base(file));
}

int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
    return Base(file)->pMethods->xShmMap(Base(file), region, size, extend, out);
}

int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
    return Base(file)->pMethods->xShmLock(Base(file), offset, n, flags);
}

void ShmBarrier(sqlite3_file* file) { Base(file)->pMethods->xShmBarrier(Base(file)); }

int ShmUnmap(sqlite3_file* file, int delete_flag) {
    return Base(file)->pMethods->xShmUnmap(Base(file), delete_flag);
}

int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
    if (int rc = WriteOut(Of(file)); rc != SQLITE_OK) return rc;
    return Base(file)->pMethods->xFetch(Base(file), offset, amount, out);
}

int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
    return Base(file)->pMethods->xUnfetch(Base(file), offset, page);
}

const sqlite3_io_methods kMethods = {
    3,
    Close,
    Read,
    Write,
    Truncate,
    Sync,
    FileSize,
    Lock,
    Unlock,
    CheckReservedLock,
    FileControl,
    SectorSize,
    DeviceCharacteristics,
    ShmMap,
    ShmLock,
    ShmBarrier,
    ShmUnmap,
    Fetch,
    Unfetch,
};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    GatheringFile* f = Of(file);
    f->base = reinterpret_cast<sqlite3_file*>(f + 1);
    const int rc = base_vfs->xOpen(base_vfs, name, f->base, flags, out_flags);
    if (rc != SQLITE_OK || f->base->pMethods == nullptr) {
        // SQLite calls no method of a file whose pMethods is null after a failed open.
        file->pMethods = nullptr;
        return rc;
    }
    // Every method of the base file up to version 3 is forwarded; an older one lacks some.
    if (f->base->pMethods->iVersion < 3) {
        f->base->pMethods->xClose(f->base);
        file->pMethods = nullptr;
        return SQLITE_CANTOPEN;
    }
    f->gathers = (flags & SQLITE_OPEN_WAL) != 0;
    f->data = nullptr;
    f->size = 0;
    f->start = 0;
    file->pMethods = &kMethods;
    return SQLITE_OK;
}

sqlite3_vfs* Register() {
    base_vfs = sqlite3_vfs_find(nullptr);
    if (base_vfs == nullptr) return nullptr;
    static sqlite3_vfs vfs = *base_vfs;  // every other call goes to the base VFS as it is
    vfs.szOsFile = int(sizeof(GatheringFile)) + base_vfs->szOsFile;
    vfs.zName = kName;
    vfs.pNext = nullptr;
    vfs.xOpen = Open;
    if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) return nullptr;
    return &vfs;
}

}  // namespace

const char* WalWriteBufferVfs() {
    static sqlite3_vfs* vfs = Register();
    // Without it (no default VFS, which SQLite on Linux always has) the base VFS is used.
    return vfs != nullptr ? kName : nullptr;
}

uint64_t WalWritesIssued() { return writes_issued.load(std::memory_order_relaxed); }

}  // namespace noderepair::storage::sqlite
