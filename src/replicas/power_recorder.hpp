// The leader's BMC readings recorded in `host_power` (docs/design.md 12), written only when they
// say something new: a host's first reading in a leadership term, a change, or the reading after
// a write that failed. 1,000 hosts polled every 10 s would otherwise cost 100 writes a second
// that change nothing. Owned by `serve`; Record runs on the power poller's thread, the write's
// callback on the store's completion thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/status.hpp"

namespace noderepair::replicas {

class PowerRecorder {
public:
    // Writes one host's power and calls `done` once it committed or failed.
    using Write = std::function<void(const std::string& host, const std::string& power,
                                     std::function<void(Status)> done)>;
    explicit PowerRecorder(Write write) : write_(std::move(write)) {}

    // A reading of this replica's poll while it leads; `term` changes whenever it begins
    // leading again (Registry::LeaderTerm), since a leader in between may have recorded other
    // readings. Written unless this term already recorded the same power for the host; while
    // a write for the host is out, later readings wait for the next poll.
    void Record(int64_t term, const std::string& host, const std::string& power);

private:
    struct Host {
        std::optional<std::string> recorded;  // committed in this term
        bool writing = false;
    };

    const Write write_;
    std::mutex mu_;
    int64_t term_ = -1;
    std::map<std::string, Host> hosts_;
};

}  // namespace noderepair::replicas
