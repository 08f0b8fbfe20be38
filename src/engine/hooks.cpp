#include "engine/hooks.hpp"

namespace noderepair::engine {
namespace {

using providers::Action;
using providers::OperationStatus;

constexpr std::string_view kHookPrefix = "hook:";

// Single quotes for the shell.
std::string Quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

}  // namespace

std::string HookedProvider::CommandFor(Action action) const {
    if (action == Action::kDrain) return commands_.drain;
    if (action == Action::kRejoin) return commands_.rejoin;
    if (action == Action::kVerify && !commands_.health_check.empty() &&
        !commands_.verify_tests.empty()) {
        // Each test in turn through the health check hook; the first failure names itself.
        std::string loop = "for t in";
        for (const auto& test : commands_.verify_tests) loop += " " + Quote(test);
        loop += "; do NODEREPAIR_TEST=\"$t\" /bin/sh -c " + Quote(commands_.health_check) +
                " || { echo \"verify test $t failed\" >&2; exit 1; }; done";
        return loop;
    }
    return {};
}

Result<std::string> HookedProvider::Start(const providers::Operation& op,
                                          const providers::CallContext& call) {
    const std::string command = CommandFor(op.action);
    if (command.empty()) return inner_.Start(op, call);
    const Timestamp now = call.Now();
    const std::string handle = std::string(kHookPrefix) + op.key;
    std::lock_guard lock(mu_);
    if (running_.count(handle)) return handle;  // already running: the same operation
    const std::string name(providers::ActionName(op.action));
    NR_ASSIGN_OR_RETURN(
        auto process, Subprocess::Spawn(command, {{"NODEREPAIR_HOOK", name},
                                                  {"NODEREPAIR_REMEDIATION_ID", op.remediation_id},
                                                  {"NODEREPAIR_CLUSTER_ID", op.cluster_id},
                                                  {"NODEREPAIR_INSTANCE_ID", op.instance_id},
                                                  {"NODEREPAIR_INSTANCE_NAME", op.instance_name},
                                                  {"NODEREPAIR_NODE", op.instance_name},
                                                  {"NODEREPAIR_HOST", op.host}}));
    running_.emplace(handle, Running{std::move(process), name, now + commands_.timeout});
    return handle;
}

Result<OperationStatus> HookedProvider::Poll(const std::string& handle,
                                             const providers::CallContext& call) {
    if (!handle.starts_with(kHookPrefix)) return inner_.Poll(handle, call);
    const Timestamp now = call.Now();
    std::lock_guard lock(mu_);
    auto it = running_.find(handle);
    if (it == running_.end()) {
        // Started by a process that is gone: the command died with it. Hooks are
        // idempotent (a second drain of a drained node is a no-op), so run it again.
        return providers::Lost("the hook was interrupted by a restart");
    }
    OperationStatus status;
    auto exit = it->second.process.Poll();
    const std::string name = it->second.name;
    if (!exit) {
        if (now >= it->second.deadline) {
            running_.erase(it);  // kills it
            return Error{
                Code::kDeadlineExceeded,
                name + " hook timed out after " + std::to_string(commands_.timeout.count()) + " s"};
        }
        status.poll_at = std::min(it->second.deadline, now + std::chrono::milliseconds(100));
        return status;
    }
    running_.erase(it);
    if (exit->success) {
        status.phase = OperationStatus::Phase::kDone;
        return status;
    }
    return FailedPrecondition(name + " hook " + exit->how +
                              (exit->output.empty() ? "" : ": " + exit->output));
}

}  // namespace noderepair::engine
