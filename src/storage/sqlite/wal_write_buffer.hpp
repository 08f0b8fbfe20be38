// A SQLite VFS over the default one that gathers a connection's writes to its WAL file and
// hands them to the file system in one write at the commit's sync. SQLite writes each WAL frame
// as two writes (its 24-byte header, then the page), so a commit of 40 pages made 80 pwrite
// calls on the writer thread; here it makes one.
//
// Why it is safe: with synchronous=FULL SQLite syncs the WAL at every commit before it marks
// the commit's frames as present in the WAL index, and this VFS writes out what it gathered
// before that sync, so no other connection can learn of a frame that is not in the file yet.
// Anything else done to the file (a read, a truncation, its size, a sync, closing it) first
// writes out what is gathered, so the connection itself always sees its own writes. Writes that
// do not follow the gathered ones end to end, or that would pass kMaxGathered, write out first.
// Only for a connection with synchronous=FULL (the store's writer): with synchronous=OFF a
// commit has no sync, and its frames would reach the file only at the next one.
#pragma once

#include <cstdint>

namespace noderepair::storage::sqlite {

// The name to open a connection with (sqlite3_open_v2's zVfs); registered on first use.
const char* WalWriteBufferVfs();

// Writes handed to the file system by this VFS so far, process-wide (tests count them).
uint64_t WalWritesIssued();

}  // namespace noderepair::storage::sqlite
