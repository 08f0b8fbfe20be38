#include "replicas/power_recorder.hpp"

namespace noderepair::replicas {

void PowerRecorder::Record(int64_t term, const std::string& host, const std::string& power) {
    {
        std::lock_guard lock(mu_);
        if (term != term_) {
            term_ = term;
            hosts_.clear();
        }
        Host& h = hosts_[host];
        if (h.writing || h.recorded == power) return;
        h.writing = true;
    }
    write_(host, power, [this, term, host, power](Status written) {
        std::lock_guard lock(mu_);
        if (term != term_) return;  // a new term writes its own first readings
        Host& h = hosts_[host];
        h.writing = false;
        // A failed write leaves nothing recorded: the next poll writes the host again.
        if (written) {
            h.recorded = power;
        } else {
            h.recorded.reset();
        }
    });
}

}  // namespace noderepair::replicas
