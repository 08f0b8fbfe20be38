// Names the calling thread ("nr-store-write"), so top -H, perf and gdb tell the threads apart.
#pragma once

#include <pthread.h>

namespace noderepair {

// Linux keeps 15 characters of it.
inline void NameThisThread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace noderepair
