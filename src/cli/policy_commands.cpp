#include "cli/policy_commands.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/serve.hpp"
#include "cli/table.hpp"
#include "common/json.hpp"
#include "health/replay.hpp"
#include "storage/history.hpp"

namespace noderepair::cli {
namespace {

std::string ShortMode(model::Mode mode) {
    std::string name(model::WireName(mode));
    constexpr std::string_view kPrefix = "REMEDIATION_MODE_";
    return name.starts_with(kPrefix) ? name.substr(kPrefix.size()) : name;
}

std::string ReportJson(const health::ReplayReport& report) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("modes").BeginArray();
    for (const auto& m : report.modes) {
        w.BeginObject()
            .Key("mode")
            .String(model::WireName(m.mode))
            .Key("created")
            .Int(m.created)
            .Key("would_create")
            .Int(m.would_create)
            .EndObject();
    }
    w.EndArray().Key("differing_instances").BeginArray();
    for (const auto& id : report.differing_instances) w.String(id);
    w.EndArray().EndObject();
    return out + "\n";
}

std::string ReportText(const health::ReplayReport& report) {
    std::vector<TableRow> rows;
    for (const auto& m : report.modes) {
        rows.push_back(
            {ShortMode(m.mode), std::to_string(m.created), std::to_string(m.would_create)});
    }
    std::string out = "replayed " + std::to_string(report.signals) + " signals\n";
    out += FormatTable({"MODE", "CREATED", "WOULD_CREATE"}, rows);
    out += "instances that differ: " + std::to_string(report.differing_instances.size()) + "\n";
    for (const auto& id : report.differing_instances) out += "  " + id + "\n";
    return out;
}

}  // namespace

PolicyCommands::PolicyCommands(CLI::App& app) {
    auto* policy = app.add_subcommand("policy", "automation policy tools");
    policy->require_subcommand(1);
    replay_ = policy->add_subcommand(
        "replay",
        "run the recorded signals through another config's automation settings (read-only)");
    replay_->add_option("--db", db_,
                        "sqlite:PATH or postgres://… (default sqlite:./noderepair.db)");
    replay_->add_option("--config", config_file_, "the config whose automation to replay")
        ->required();
    replay_->add_option("--since", since_, "replay the signals from then on (RFC 3339)");
    replay_
        ->add_option("--threads", threads_,
                     "partitions of independent clusters replayed side by side (default: one "
                     "per core)")
        ->check(CLI::Range(1, 256));
    replay_->add_flag("--json", json_, "print JSON");
}

std::optional<int> PolicyCommands::RunParsed() {
    if (replay_->parsed()) return Replay();
    return std::nullopt;
}

int PolicyCommands::Replay() {
    auto fail = [](const std::string& message, int code) {
        std::fprintf(stderr, "noderepair: %s\n", message.c_str());
        return code;
    };
    auto config = LoadConfigFile(config_file_);
    if (!config) return fail(config.error().message, kExitUsage);
    auto policy = health::Policy::WithOverrides(config->automation.rules);
    if (!policy) return fail(policy.error().message, kExitUsage);
    health::ReplayOptions options{.policy = std::move(*policy),
                                  .automation = AutomationOptionsOf(*config),
                                  .threads = threads_};
    if (!since_.empty()) {
        options.since = ParseRfc3339(since_);
        if (!options.since)
            return fail(
                "--since must be an RFC 3339 time, e.g. "
                "2026-01-02T03:04:05Z",
                kExitUsage);
    }
    auto history = storage::History::Open(db_);
    if (!history) return fail(history.error().message, kExitFailure);
    auto report = health::Replay(**history, options);
    if (!report) return fail(report.error().message, kExitFailure);
    const std::string out = json_ ? ReportJson(*report) : ReportText(*report);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

}  // namespace noderepair::cli
