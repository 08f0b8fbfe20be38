#include "infra/infra_provider.hpp"

#include <set>
#include <vector>

namespace noderepair::infra {
namespace {

using providers::Action;
using providers::OperationStatus;

constexpr auto kPowerPoll = std::chrono::milliseconds(200);
constexpr auto kSlurmPoll = std::chrono::milliseconds(300);
// A BMC that cycles faster than the poll may never be seen off: on again after this long
// counts as cycled.
constexpr auto kCycleSettle = std::chrono::seconds(5);
// Slurm keeps a reason of at most this many characters in practice (shortened to fit).
constexpr size_t kMaxReason = 120;

std::vector<std::string> Split(const std::string& s, char sep) {
    std::vector<std::string> parts;
    size_t begin = 0;
    while (true) {
        const size_t end = s.find(sep, begin);
        parts.push_back(
            s.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
        if (end == std::string::npos) return parts;
        begin = end + 1;
    }
}

int64_t Millis(Timestamp t) { return ToMicros(t) / 1000; }

OperationStatus Running(Timestamp at) {
    OperationStatus status;
    status.poll_at = at;
    return status;
}

OperationStatus Done(std::string note = {}) {
    OperationStatus status;
    status.phase = OperationStatus::Phase::kDone;
    status.note = std::move(note);
    return status;
}

std::string KeptNote(const SlurmNode& node, std::string_view what) {
    return std::string(what) + ": node " + node.name + " is held by someone else in Slurm (" +
           node.state_text + ", reason: \"" + node.reason + "\"); their drain and reason are kept";
}

// A node someone else holds in Slurm: the remediation goes on without it, and a person should
// know (the worker node's attention).
OperationStatus Kept(const SlurmNode& node, std::string_view what) {
    OperationStatus status = Done(KeptNote(node, what));
    status.attention = KeptNote(node, "kept its drain");
    return status;
}

// The drain reason that marks a node as noderepair's (docs/http-api.md 8): "noderepair <id>:
// <the remediation's reason>", on one line, shortened to fit.
std::string DrainReason(const std::string& remediation_id, const std::string& why) {
    std::string reason = std::string(kOurReasonPrefix) + remediation_id + ": " +
                         (why.empty() ? std::string("remediation") : why);
    for (char& c : reason) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    if (reason.size() > kMaxReason) reason.resize(kMaxReason);
    return reason;
}

}  // namespace

InfraProvider::InfraProvider(providers::Provider& inner, FleetInfra fleet, InfraOptions options,
                             PowerBoard& power, const Clock& clock)
    : inner_(inner),
      fleet_(std::move(fleet)),
      options_(std::move(options)),
      power_(power),
      clock_(clock),
      started_at_(clock.Now()) {
    auto add = [this](const std::string& conf) {
        controllers_.try_emplace(conf, conf, options_.slurm_timeout);
    };
    if (options_.default_manager == "slurm") add(options_.default_slurm_conf);
    for (const auto& [cluster, workload] : fleet_.workloads) {
        if (workload.manager == "slurm") add(workload.slurm_conf);
    }
}

const SlurmClient* InfraProvider::SlurmOf(const std::string& cluster_id) const {
    std::string manager = options_.default_manager;
    std::string conf = options_.default_slurm_conf;
    if (auto it = fleet_.workloads.find(cluster_id); it != fleet_.workloads.end()) {
        manager = it->second.manager;
        conf = it->second.slurm_conf;
    }
    if (manager != "slurm") return nullptr;
    auto it = controllers_.find(conf);
    return it == controllers_.end() ? nullptr : &it->second;
}

std::vector<const SlurmClient*> InfraProvider::Controllers() const {
    std::vector<const SlurmClient*> out;
    for (const auto& [conf, client] : controllers_) out.push_back(&client);
    return out;
}

std::optional<Timestamp> InfraProvider::ResumedAt(const std::string& slurm_conf,
                                                  const std::string& node) const {
    std::lock_guard lock(mu_);
    auto it = resumed_at_.find({slurm_conf, node});
    if (it == resumed_at_.end()) return std::nullopt;
    return it->second;
}

void InfraProvider::NoteResumed(const SlurmClient& slurm, const std::string& node) {
    std::lock_guard lock(mu_);
    resumed_at_[{slurm.slurm_conf(), node}] = clock_.Now();
}

Result<std::string> InfraProvider::Start(const providers::Operation& op,
                                         const providers::CallContext& call) {
    if (op.action == Action::kPowerCycleHost && options_.ipmi) return StartPowerCycle(op, call);
    if (op.action == Action::kDrain || op.action == Action::kWaitReady ||
        op.action == Action::kRejoin) {
        if (const SlurmClient* slurm = SlurmOf(op.cluster_id)) return StartSlurm(*slurm, op, call);
    }
    return inner_.Start(op, call);
}

Result<OperationStatus> InfraProvider::Poll(const std::string& handle,
                                            const providers::CallContext& call) {
    if (handle.starts_with("ipmi|")) return PollPowerCycle(handle, call);
    if (handle.starts_with("slurm|")) return PollSlurm(handle, call);
    return inner_.Poll(handle, call);
}

// --- power ---------------------------------------------------------------------------------

Result<std::string> InfraProvider::StartPowerCycle(const providers::Operation& op,
                                                   const providers::CallContext& call) {
    auto bmc = fleet_.bmcs.find(op.host);
    if (bmc == fleet_.bmcs.end()) {
        return FailedPrecondition("host " + op.host +
                                  " has no bmc in the fleet file (power.driver is ipmi)");
    }
    const std::string handle = "ipmi|" + op.key + "|" + op.host;
    {
        std::lock_guard lock(mu_);
        if (cycles_.count(op.key)) return handle;  // sent by this process: never twice
    }
    // No idempotency key at a BMC: look for signs that an earlier run already sent it.
    const bool resumed = op.intent_at < started_at_;
    Cycle cycle;
    // The evidence, cheapest first: the node's slurmd started since the intent; the BMC
    // reported the chassis off since the intent; the chassis is off now (then it is powered
    // on, which cannot cycle a host a second time).
    if (const SlurmClient* slurm = SlurmOf(op.cluster_id); slurm && resumed) {
        auto node = slurm->Node(op.instance_name);
        if (node && node->slurmd_start * 1000 >= Millis(op.intent_at)) {
            cycle.note = "not sent again after a restart: node " + op.instance_name +
                         "'s slurmd started after the intent";
        }
    }
    if (auto off = power_.LastSeenOff(op.host);
        resumed && cycle.note.empty() && off && *off >= op.intent_at) {
        cycle.note = "not sent again after a restart: BMC " + bmc->second.address +
                     " reported the chassis off after the intent";
    }
    if (cycle.note.empty()) {
        NR_ASSIGN_OR_RETURN(auto state, GetPower(bmc->second, options_.power_timeout));
        power_.Set(op.host, state);
        cycle.powered_on = state == PowerState::kOff;
        NR_RETURN_IF_ERROR(SetPower(bmc->second,
                                    cycle.powered_on ? PowerCommand::kOn : PowerCommand::kCycle,
                                    options_.power_timeout));
        cycle.sent_ms = Millis(call.Now());
        cycle.note =
            std::string(cycle.powered_on ? "the chassis was off: power on" : "power cycle") +
            " sent to BMC " + bmc->second.address;
        if (resumed && cycle.powered_on) {
            cycle.note += " after a restart (not a second cycle: the chassis was off)";
        } else if (resumed) {
            cycle.note +=
                " again after a restart (the host showed no sign of having restarted "
                "since the intent)";
        }
    }
    std::lock_guard lock(mu_);
    cycles_.emplace(op.key, cycle);
    return handle;
}

Result<OperationStatus> InfraProvider::PollPowerCycle(const std::string& handle,
                                                      const providers::CallContext& call) {
    const auto parts = Split(handle, '|');
    if (parts.size() != 3) return Internal("malformed power handle " + handle);
    const std::string& key = parts[1];
    const std::string& host = parts[2];
    Cycle cycle;
    {
        std::lock_guard lock(mu_);
        auto it = cycles_.find(key);
        // Sent by a process that is gone: start over, and the intent's rule decides.
        if (it == cycles_.end()) {
            return providers::Lost("the power cycle of " + host + " was interrupted by a restart");
        }
        cycle = it->second;
    }
    const Timestamp now = call.Now();
    if (cycle.sent_ms == 0) return Done(cycle.note);
    auto bmc = fleet_.bmcs.find(host);
    if (bmc == fleet_.bmcs.end()) return FailedPrecondition("host " + host + " has no bmc");
    NR_ASSIGN_OR_RETURN(auto state, GetPower(bmc->second, options_.power_timeout));
    power_.Set(host, state);
    std::lock_guard lock(mu_);
    Cycle& mine = cycles_[key];
    if (state == PowerState::kOff) {
        mine.seen_off = true;
        return Running(now + kPowerPoll);
    }
    const bool settled =
        Millis(now) - mine.sent_ms >=
        std::chrono::duration_cast<std::chrono::milliseconds>(kCycleSettle).count();
    if (mine.seen_off || mine.powered_on || settled) {
        host_cycled_ms_[host] = mine.sent_ms;
        return Done(mine.note);
    }
    return Running(now + kPowerPoll);
}

// --- Slurm ---------------------------------------------------------------------------------

Result<std::string> InfraProvider::StartSlurm(const SlurmClient& slurm,
                                              const providers::Operation& op,
                                              const providers::CallContext& call) {
    const std::string verb(providers::ActionName(op.action));
    const std::string handle = "slurm|" + verb + "|" + op.cluster_id + "|" + op.instance_name +
                               "|" + op.host + "|" + std::to_string(Millis(call.Now())) + "|" +
                               op.remediation_id + "|" + op.remediation_reason;
    NR_ASSIGN_OR_RETURN(auto node, slurm.Node(op.instance_name));
    if (node.HeldBySomeoneElse()) return handle;  // Poll says so
    if (op.action == Action::kDrain && !(node.DrainFlag() && node.OurReason())) {
        NR_RETURN_IF_ERROR(
            slurm.Drain(op.instance_name, DrainReason(op.remediation_id, op.remediation_reason)));
    }
    if (op.action == Action::kRejoin && node.DrainFlag() && node.OurReason()) {
        NoteResumed(slurm, op.instance_name);  // before: the watcher may poll in between
        NR_RETURN_IF_ERROR(slurm.Resume(op.instance_name));
    }
    return handle;
}

Result<OperationStatus> InfraProvider::PollSlurm(const std::string& handle,
                                                 const providers::CallContext& call) {
    const auto parts = Split(handle, '|');
    if (parts.size() < 8) return Internal("malformed slurm handle " + handle);
    const std::string& verb = parts[1];
    const std::string& node_name = parts[3];
    const std::string& host = parts[4];
    const int64_t started_ms = std::stoll(parts[5]);
    const std::string& remediation_id = parts[6];
    // The remediation's reason comes last: it may hold the separator itself.
    const std::string why =
        handle.substr(handle.find('|' + remediation_id + '|') + remediation_id.size() + 2);
    const SlurmClient* slurm = SlurmOf(parts[2]);
    if (slurm == nullptr)
        return FailedPrecondition("cluster " + parts[2] + " has no Slurm controller");
    const Timestamp now = call.Now();
    const int64_t waited_ms = Millis(now) - started_ms;
    NR_ASSIGN_OR_RETURN(auto node, slurm->Node(node_name));
    if (verb == providers::ActionName(Action::kDrain)) {
        if (node.HeldBySomeoneElse()) return Kept(node, "not drained again");
        if (node.Drained() || (node.state == "DOWN" && node.OurReason())) {
            return Done("node " + node_name + " drained in Slurm (" + node.state_text + ")");
        }
        if (!node.DrainFlag()) {
            // Our drain was lost (a controller restarted without its state): ask again.
            NR_RETURN_IF_ERROR(slurm->Drain(node_name, DrainReason(remediation_id, why)));
        }
        if (waited_ms >= options_.drain_timeout.count() * 1000) {
            return Error{Code::kDeadlineExceeded,
                         "node " + node_name + " still " + node.state_text + " after " +
                             std::to_string(options_.drain_timeout.count()) +
                             " s (workload.drain_timeout_s)"};
        }
        return Running(now + kSlurmPoll);
    }
    if (verb == providers::ActionName(Action::kWaitReady)) {
        int64_t cycled_ms = 0;
        {
            std::lock_guard lock(mu_);
            if (auto it = host_cycled_ms_.find(host); it != host_cycled_ms_.end()) {
                cycled_ms = it->second;
            }
        }
        // After a power cycle, the slurmd that answers must be one started since (Slurm's
        // times have a resolution of a second).
        const bool restarted = cycled_ms == 0 || node.slurmd_start * 1000 >= cycled_ms - 1000;
        if (node.Responding() && restarted) {
            return Done("node " + node_name + " responds in Slurm (" + node.state_text + ")");
        }
        if (waited_ms >= options_.boot_timeout.count() * 1000) {
            return Error{Code::kDeadlineExceeded,
                         "node " + node_name + " did not respond within " +
                             std::to_string(options_.boot_timeout.count()) +
                             " s (power.boot_timeout_s)"};
        }
        return Running(now + kSlurmPoll);
    }
    // rejoin
    if (node.HeldBySomeoneElse()) return Kept(node, "not resumed");
    if (node.DrainFlag() && node.OurReason()) {
        NoteResumed(*slurm, node_name);
        NR_RETURN_IF_ERROR(slurm->Resume(node_name));
        return Running(now + kSlurmPoll);
    }
    if (node.Healthy()) {
        NoteResumed(*slurm, node_name);  // the grace counts from when it was usable again
        return Done("node " + node_name + " resumed in Slurm (" + node.state_text + ")");
    }
    return Running(now + kSlurmPoll);
}

}  // namespace noderepair::infra
