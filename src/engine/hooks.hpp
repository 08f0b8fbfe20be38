// Drain and rejoin hooks (config hooks.drain / hooks.rejoin): shell commands that take a node
// out of its scheduler gracefully and put it back (Slurm `scontrol`, Kubernetes `kubectl
// drain`). A Provider decorator: the drain and rejoin steps run the hook instead of the
// provider's own action; every other step goes to the provider. Runs on the store's writer
// thread like any provider call, and never waits for a command: Start spawns, Poll reaps.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "providers/provider.hpp"

namespace noderepair::engine {

struct HookCommands {
    std::string drain;
    std::string rejoin;
    std::chrono::seconds timeout{600};
};

class HookedProvider final : public providers::Provider {
public:
    HookedProvider(providers::Provider& inner, HookCommands commands, const Clock& clock)
        : inner_(inner), commands_(std::move(commands)), clock_(clock) {}
    ~HookedProvider() override;

    Result<std::string> Start(storage::Txn& txn, const providers::Operation& op,
                              Timestamp now) override;
    Result<providers::OperationStatus> Poll(storage::Txn& txn, const std::string& handle,
                                            Timestamp now) override;
    Status Release(storage::Txn& txn, const std::string& instance_id) override;

private:
    struct Running {
        pid_t pid = -1;
        std::string stderr_path;
        std::string name;  // "drain" or "rejoin"
        Timestamp deadline;
    };
    const std::string* CommandFor(providers::Action action) const;
    Result<Running> Spawn(const std::string& command, const providers::Operation& op,
                          Timestamp now);

    providers::Provider& inner_;
    const HookCommands commands_;
    const Clock& clock_;
    std::mutex mu_;
    std::map<std::string, Running> running_;  // by handle
};

}  // namespace noderepair::engine
