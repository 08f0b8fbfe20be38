// `noderepair policy replay` (docs/http-api.md 11): the recorded signal history run through the
// automation settings of another configuration, read-only. Owns the flags the parser fills;
// lives on cli::Run()'s stack, used by the main thread only.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace noderepair::cli {

class PolicyCommands {
public:
    explicit PolicyCommands(CLI::App& app);
    PolicyCommands(const PolicyCommands&) = delete;
    PolicyCommands& operator=(const PolicyCommands&) = delete;

    // Runs the verb the parser chose; nullopt when it chose none of these.
    std::optional<int> RunParsed();

private:
    int Replay();

    std::string db_ = "sqlite:./noderepair.db";
    std::string config_file_;
    std::string since_;
    bool json_ = false;
    int threads_ = 0;  // 0: one per core
    CLI::App* replay_ = nullptr;
};

}  // namespace noderepair::cli
