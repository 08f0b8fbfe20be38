#include "infra/slurm_listing_conf.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

namespace noderepair::infra {
namespace {

// Slurm's default when neither a path nor $SLURM_CONF is given (Debian's slurm-wlm).
constexpr const char* kDefaultSlurmConf = "/etc/slurm/slurm.conf";

bool StartsWithWord(std::string_view line, std::string_view word) {
    return line.size() > word.size() &&
           std::equal(word.begin(), word.end(), line.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) ==
                      std::tolower(static_cast<unsigned char>(b));
           });
}

// Slurm's keys ignore case: "NodeName=" and "nodename=" alike.
bool StartsWithKey(std::string_view line, std::string_view key) {
    return StartsWithWord(line, key) && line[key.size()] == '=';
}

bool IsInclude(std::string_view line) {
    return StartsWithWord(line, "Include") && (line[7] == ' ' || line[7] == '\t');
}

bool DeclaresNodes(std::string_view line) {
    for (std::string_view key : {"NodeName", "PartitionName", "NodeSet", "DownNodes"}) {
        if (StartsWithKey(line, key)) return true;
    }
    return false;
}

constexpr std::string_view kDirPrefix = "noderepair-slurm-";

// Copies left by a noderepair killed with SIGKILL (no destructor ran): "<prefix><pid>-XXXXXX"
// folders of processes gone. A live process's, or another user's, stays.
void RemoveCopiesOfDeadProcesses(const std::filesystem::path& tmp) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(tmp, ec)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with(kDirPrefix)) continue;
        const long pid = std::strtol(name.c_str() + kDirPrefix.size(), nullptr, 10);
        // kill(pid, 0): 0 or EPERM when the process exists, ESRCH when it is gone.
        if (pid <= 0 || kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
        std::error_code ignored;
        std::filesystem::remove_all(entry.path(), ignored);
    }
}

}  // namespace

std::string StripNodeLines(std::string_view text, const std::filesystem::path& conf_dir) {
    std::string out;
    bool skipping_continuation = false;
    while (!text.empty()) {
        const size_t eol = text.find('\n');
        const std::string_view raw = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        std::string_view line = raw;
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            line.remove_prefix(1);
        }
        const bool continues = !raw.empty() && raw.back() == '\\';
        if (skipping_continuation || DeclaresNodes(line)) {
            skipping_continuation = continues;
            continue;
        }
        if (IsInclude(line)) {
            std::string_view target = line.substr(7);
            while (!target.empty() && (target.front() == ' ' || target.front() == '\t')) {
                target.remove_prefix(1);
            }
            if (!target.empty() && target.front() != '/') {
                out += "Include " + (conf_dir / std::string(target)).string() + "\n";
                continue;
            }
        }
        out.append(raw);
        out += '\n';
    }
    return out;
}

SlurmListingConf::SlurmListingConf(std::string original) {
    if (original.empty()) {
        const char* env = std::getenv("SLURM_CONF");
        original = env != nullptr && *env != '\0' ? env : kDefaultSlurmConf;
    }
    original_ = std::filesystem::absolute(original);
}

SlurmListingConf::~SlurmListingConf() {
    if (dir_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

Result<std::string> SlurmListingConf::Path() {
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(original_, ec);
    if (ec) return Unavailable("slurm.conf " + original_.string() + ": " + ec.message());
    const std::filesystem::path copy = dir_ / "slurm.conf";
    if (!dir_.empty() && mtime == written_for_) return copy.string();
    std::ifstream in(original_);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return Unavailable("slurm.conf " + original_.string() + ": cannot be read");
    if (dir_.empty()) {
        const auto tmp = std::filesystem::temp_directory_path(ec);
        if (!ec) RemoveCopiesOfDeadProcesses(tmp);
        std::string pattern =
            (tmp / (std::string(kDirPrefix) + std::to_string(getpid()) + "-XXXXXX")).string();
        if (ec || mkdtemp(pattern.data()) == nullptr) {
            return Unavailable("a folder for a client copy of slurm.conf cannot be made");
        }
        dir_ = pattern;
    }
    // Written beside and renamed over, so that a listing running meanwhile reads a whole file.
    const std::filesystem::path next = dir_ / "slurm.conf.next";
    {
        std::ofstream out(next, std::ios::trunc);
        out << StripNodeLines(text.str(), original_.parent_path());
        if (!out.flush()) return Unavailable("cannot write " + next.string());
    }
    std::filesystem::rename(next, dir_ / "slurm.conf", ec);
    if (ec) return Unavailable("cannot write " + copy.string() + ": " + ec.message());
    written_for_ = mtime;
    return (dir_ / "slurm.conf").string();
}

}  // namespace noderepair::infra
