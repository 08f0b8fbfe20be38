#include "common/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "common/ids.hpp"

extern char** environ;

namespace noderepair {
namespace {

constexpr size_t kOutputTail = 2000;

std::string Tail(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::string all = text.str();
    while (!all.empty() && (all.back() == '\n' || all.back() == ' ')) all.pop_back();
    if (all.size() > kOutputTail) all = "..." + all.substr(all.size() - kOutputTail);
    return all;
}

}  // namespace

Result<Subprocess> Subprocess::Spawn(const std::string& command,
                                     const std::vector<std::pair<std::string, std::string>>& env) {
    std::vector<std::string> entries;
    for (char** e = environ; *e != nullptr; ++e) {
        // Our own variables come only from `env`, never from the server's environment.
        if (std::string_view(*e).starts_with("NODEREPAIR_")) continue;
        entries.emplace_back(*e);
    }
    for (const auto& [k, v] : env) entries.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : entries) envp.push_back(e.data());
    envp.push_back(nullptr);

    std::string output_path = "/tmp/noderepair-cmd-" + RandomHex(8) + ".out";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // The server blocks SIGTERM/SIGINT for its signal thread; the command must not inherit it.
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    std::string shell_command = command;
    char sh[] = "/bin/sh";
    char dash_c[] = "-c";
    char* argv[] = {sh, dash_c, shell_command.data(), nullptr};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        unlink(output_path.c_str());
        return Unavailable("cannot start command: " + std::string(strerror(rc)));
    }
    return Subprocess(pid, std::move(output_path));
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), output_path_(std::move(other.output_path_)) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
    if (this != &other) {
        Kill();
        pid_ = std::exchange(other.pid_, -1);
        output_path_ = std::move(other.output_path_);
    }
    return *this;
}

Subprocess::~Subprocess() { Kill(); }

void Subprocess::Kill() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGKILL);  // its process group: the shell and what it started
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    unlink(output_path_.c_str());
}

std::optional<Subprocess::Exit> Subprocess::Poll() {
    if (pid_ <= 0) return Exit{false, "was not running", ""};
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == 0) return std::nullopt;
    Exit exit;
    exit.output = Tail(output_path_);
    unlink(output_path_.c_str());
    pid_ = -1;
    if (done < 0) {
        exit.how = "could not be waited for";
    } else if (WIFEXITED(status)) {
        exit.success = WEXITSTATUS(status) == 0;
        exit.how = "exited with status " + std::to_string(WEXITSTATUS(status));
    } else {
        exit.how = "was killed by signal " + std::to_string(WTERMSIG(status));
    }
    return exit;
}

}  // namespace noderepair
