// Drain, rejoin and verify hooks (config hooks.drain / hooks.rejoin / hooks.health_check):
// shell commands that take a node out of its scheduler gracefully and put it back (Slurm
// `scontrol`, Kubernetes `kubectl drain`), and run the active tests of engine.verify_tests.
// A Provider decorator: those steps run the hook instead of the provider's own action; every
// other step goes to the provider. Never waits for a command: Start spawns, Poll reaps.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/subprocess.hpp"
#include "providers/provider.hpp"

namespace noderepair::engine {

struct HookCommands {
    std::string drain;
    std::string rejoin;
    std::string health_check;  // one active test, named by $NODEREPAIR_TEST; exit 0 = pass
    std::vector<std::string> verify_tests;
    std::chrono::seconds timeout{600};
};

class HookedProvider final : public providers::Provider {
public:
    HookedProvider(providers::Provider& inner, HookCommands commands)
        : inner_(inner), commands_(std::move(commands)) {}

    Result<std::string> Start(const providers::Operation& op,
                              const providers::CallContext& call) override;
    Result<providers::OperationStatus> Poll(const std::string& handle,
                                            const providers::CallContext& call) override;

private:
    struct Running {
        Subprocess process;
        std::string name;  // "drain", "rejoin", "verify"
        Timestamp deadline;
    };
    // The command for this step, or empty when the provider does it.
    std::string CommandFor(providers::Action action) const;

    providers::Provider& inner_;
    const HookCommands commands_;
    std::mutex mu_;
    std::map<std::string, Running> running_;  // by handle
};

}  // namespace noderepair::engine
