// Slurm's own view of its nodes as a health signal (docs/http-api.md 8): one thread per
// controller polls node states every workload.poll_s and raises SlurmNodeUnavailable (labels
// node, reason, slurm_state) for a node that is DOWN or not responding, drained by Slurm itself
// (INVALID_REG), or drained/failed with a reason matching workload.signal_reasons; it resolves
// the signal once the node is healthy again. Both go through exactly the path of an
// Alertmanager alert (the `ingest` function). Nodes held by noderepair's own drains never raise,
// nor does a node noderepair resumed a moment ago that Slurm briefly shows not responding
// (kSettleAfterResume).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "infra/slurm.hpp"
#include "infra/slurm_listing_conf.hpp"
#include "model/alert.hpp"

namespace noderepair::infra {

using IngestFn = std::function<void(std::vector<model::IncomingAlert>)>;
// When noderepair last resumed a node of this controller, if it did.
using ResumedAtFn = std::function<std::optional<Timestamp>(const std::string& node)>;

// How long after noderepair resumes a node its being not responding is taken for the tail of
// noderepair's own power cycle rather than a fault: slurmctld may still hold a ping of the slurmd
// that the power cycle killed and mark the node NOT_RESPONDING just after it came back and was
// resumed. A node still unavailable after this raises its signal then (late, never lost).
inline constexpr auto kSettleAfterResume = std::chrono::seconds(60);

class SlurmWatcher {
public:
    // Errors: kInvalidArgument for a pattern that is not a regular expression. A leading
    // "(?i)" makes a pattern ignore case.
    static Result<std::vector<std::regex>> CompilePatterns(
        const std::vector<std::string>& patterns);

    SlurmWatcher(const SlurmClient& slurm, std::vector<std::regex> patterns, const Clock& clock,
                 IngestFn ingest, ResumedAtFn resumed_at = nullptr);
    ~SlurmWatcher();

    // Why a node is unavailable at `now`, or empty when it is not (or is noderepair's own doing).
    std::string UnavailableReason(const SlurmNode& node, Timestamp now) const;
    // One poll: the alerts that changed (tests call it directly).
    Status PollOnce();

    // With `leads`, polls only while it says this replica leads (docs/design.md 12);
    // `polled` is told of each poll the controller answered.
    void Start(std::chrono::milliseconds interval, std::function<bool()> leads = nullptr,
               std::function<void()> polled = nullptr);
    void Stop();

private:
    struct Open {
        Timestamp since;
        std::string reason;
        Timestamp last_sent;
    };
    Result<std::vector<SlurmNode>> ListNodes();
    model::IncomingAlert AlertOf(const SlurmNode& node, const std::string& reason, bool firing,
                                 Timestamp since, Timestamp now) const;

    const SlurmClient& slurm_;
    const std::vector<std::regex> patterns_;
    const Clock& clock_;
    IngestFn ingest_;
    ResumedAtFn resumed_at_;
    // Dropped, for the original slurm.conf, when a listing with it fails where the original's
    // succeeds.
    std::unique_ptr<SlurmListingConf> listing_conf_;
    bool listing_logged_ = false;
    std::map<std::string, Open> open_;  // by node: signals raised and not resolved
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace noderepair::infra
