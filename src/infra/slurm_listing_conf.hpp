// A client copy of a cluster's slurm.conf for the watcher's listings (README.md "The watcher's
// listing reads a slurm.conf without its nodes"): scontrol parses the whole slurm.conf at every
// start, and on a big cluster its NodeName/PartitionName lines are most of that cost, while
// `scontrol show node -o` takes every node from slurmctld anyway. Written once, rewritten when
// the original's mtime changes, in a private temporary folder removed with this object.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace noderepair::infra {

// `text` without the lines that declare nodes and what is built of them (NodeName,
// PartitionName, NodeSet, DownNodes; any case, with their '\' continuations), relative Include
// paths made absolute against `conf_dir` (the copy lives elsewhere).
std::string StripNodeLines(std::string_view text, const std::filesystem::path& conf_dir);

class SlurmListingConf {
public:
    // `original` empty: $SLURM_CONF, else Slurm's default path.
    explicit SlurmListingConf(std::string original);
    ~SlurmListingConf();
    SlurmListingConf(const SlurmListingConf&) = delete;
    SlurmListingConf& operator=(const SlurmListingConf&) = delete;

    // The copy's path, written or rewritten first when the original changed. Errors: the
    // original cannot be read or the copy cannot be written (the caller lists with the
    // original).
    Result<std::string> Path();

private:
    std::filesystem::path original_;
    std::filesystem::path dir_;  // empty until first written
    std::filesystem::file_time_type written_for_{};
};

}  // namespace noderepair::infra
