// A shell command run in the background: spawned with /bin/sh -c and extra environment
// variables, stdout and stderr captured to a file, reaped without blocking. Used by the
// engine's hooks and the active health checks. Not thread-safe; one owner polls it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace noderepair {

class Subprocess {
public:
    // Unavailable when the command cannot be started.
    static Result<Subprocess> Spawn(const std::string& command,
                                    const std::vector<std::pair<std::string, std::string>>& env);
    Subprocess(Subprocess&& other) noexcept;
    Subprocess& operator=(Subprocess&& other) noexcept;
    Subprocess(const Subprocess&) = delete;
    Subprocess& operator=(const Subprocess&) = delete;
    ~Subprocess();  // kills a command still running

    struct Exit {
        bool success = false;
        std::string how;     // "exited with status 3", "was killed by signal 9"
        std::string output;  // the tail of stdout and stderr
    };
    // nullopt while it runs.
    std::optional<Exit> Poll();
    void Kill();

private:
    Subprocess(pid_t pid, std::string output_path)
        : pid_(pid), output_path_(std::move(output_path)) {}
    pid_t pid_ = -1;
    std::string output_path_;
};

}  // namespace noderepair
