#include "engine/hooks.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/ids.hpp"

extern char** environ;

namespace noderepair::engine {
namespace {

using providers::Action;
using providers::OperationStatus;

constexpr std::string_view kHookPrefix = "hook:";
constexpr size_t kStderrTail = 2000;

std::string Tail(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::string all = text.str();
    while (!all.empty() && (all.back() == '\n' || all.back() == ' ')) all.pop_back();
    if (all.size() > kStderrTail) all = "…" + all.substr(all.size() - kStderrTail);
    return all;
}

}  // namespace

HookedProvider::~HookedProvider() {
    std::lock_guard lock(mu_);
    for (auto& [handle, run] : running_) {
        kill(run.pid, SIGKILL);
        waitpid(run.pid, nullptr, 0);
        unlink(run.stderr_path.c_str());
    }
}

const std::string* HookedProvider::CommandFor(Action action) const {
    if (action == Action::kDrain && !commands_.drain.empty()) return &commands_.drain;
    if (action == Action::kRejoin && !commands_.rejoin.empty()) return &commands_.rejoin;
    return nullptr;
}

Result<HookedProvider::Running> HookedProvider::Spawn(const std::string& command,
                                                       const providers::Operation& op,
                                                       Timestamp now) {
    Running run;
    run.name = std::string(providers::ActionName(op.action));
    run.stderr_path = "/tmp/noderepair-hook-" + RandomHex(8) + ".err";
    run.deadline = now + commands_.timeout;

    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::string_view(*e).starts_with("NODEREPAIR_")) continue;
        env.emplace_back(*e);
    }
    env.push_back("NODEREPAIR_HOOK=" + run.name);
    env.push_back("NODEREPAIR_REMEDIATION_ID=" + op.remediation_id);
    env.push_back("NODEREPAIR_CLUSTER_ID=" + op.cluster_id);
    env.push_back("NODEREPAIR_INSTANCE_ID=" + op.instance_id);
    env.push_back("NODEREPAIR_INSTANCE_NAME=" + op.instance_name);
    env.push_back("NODEREPAIR_NODE=" + op.instance_name);
    env.push_back("NODEREPAIR_HOST=" + op.host);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, run.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // The server blocks SIGTERM/SIGINT for its sigwait thread; the hook must not inherit that.
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    std::string shell_command = command;
    char sh[] = "/bin/sh";
    char dash_c[] = "-c";
    char* argv[] = {sh, dash_c, shell_command.data(), nullptr};
    int rc = posix_spawn(&run.pid, "/bin/sh", &actions, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        return Unavailable(run.name + " hook could not start: " + std::string(strerror(rc)));
    }
    return run;
}

Result<std::string> HookedProvider::Start(storage::Txn& txn, const providers::Operation& op,
                                          Timestamp now) {
    const std::string* command = CommandFor(op.action);
    if (command == nullptr) return inner_.Start(txn, op, now);
    const std::string handle = std::string(kHookPrefix) + op.key;
    std::lock_guard lock(mu_);
    if (running_.count(handle)) return handle;  // already running: the same operation
    NR_ASSIGN_OR_RETURN(auto run, Spawn(*command, op, now));
    running_[handle] = std::move(run);
    return handle;
}

Result<OperationStatus> HookedProvider::Poll(storage::Txn& txn, const std::string& handle,
                                             Timestamp now) {
    if (!handle.starts_with(kHookPrefix)) return inner_.Poll(txn, handle, now);
    std::lock_guard lock(mu_);
    auto it = running_.find(handle);
    if (it == running_.end()) {
        // Started by a process that is gone: the command died with it. Hooks are
        // idempotent (a second drain of a drained node is a no-op), so run it again.
        return Unavailable("hook was interrupted by a restart; running it again");
    }
    Running& run = it->second;
    OperationStatus status;
    int wstatus = 0;
    pid_t done = waitpid(run.pid, &wstatus, WNOHANG);
    if (done == 0) {
        if (now >= run.deadline) {
            kill(-run.pid, SIGKILL);
            kill(run.pid, SIGKILL);
            waitpid(run.pid, nullptr, 0);
            unlink(run.stderr_path.c_str());
            std::string name = run.name;
            running_.erase(it);
            return Error{Code::kDeadlineExceeded,
                         name + " hook timed out after " +
                             std::to_string(commands_.timeout.count()) + " s"};
        }
        status.poll_at = std::min(run.deadline, now + std::chrono::milliseconds(100));
        return status;
    }
    std::string tail = Tail(run.stderr_path);
    unlink(run.stderr_path.c_str());
    std::string name = run.name;
    running_.erase(it);
    if (done < 0) return Internal(name + " hook could not be waited for");
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        status.phase = OperationStatus::Phase::kDone;
        return status;
    }
    std::string how = WIFEXITED(wstatus) ? "exited with status " + std::to_string(WEXITSTATUS(wstatus))
                                         : "was killed by signal " + std::to_string(WTERMSIG(wstatus));
    return FailedPrecondition(name + " hook " + how + (tail.empty() ? "" : ": " + tail));
}

Status HookedProvider::Release(storage::Txn& txn, const std::string& instance_id) {
    return inner_.Release(txn, instance_id);
}

}  // namespace noderepair::engine
