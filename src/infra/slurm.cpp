#include "infra/slurm.hpp"

#include <ctime>

#include "infra/command.hpp"

namespace noderepair::infra {
namespace {

// The value of " Key=" up to the next space, or empty.
std::string_view Field(std::string_view line, std::string_view key) {
    size_t at = 0;
    while (true) {
        at = line.find(key, at);
        if (at == std::string_view::npos) return {};
        if ((at == 0 || line[at - 1] == ' ') && at + key.size() < line.size() &&
            line[at + key.size()] == '=') {
            break;
        }
        at += key.size();
    }
    const size_t begin = at + key.size() + 1;
    const size_t end = line.find(' ', begin);
    return line.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

SlurmNode ParseLine(std::string_view line) {
    SlurmNode node;
    node.name = std::string(Field(line, "NodeName"));
    node.state_text = std::string(Field(line, "State"));
    std::string_view state = node.state_text;
    // DOWN* style suffixes are sinfo's; scontrol spells flags out after '+'.
    size_t plus = state.find('+');
    node.state = std::string(state.substr(0, plus));
    while (plus != std::string_view::npos) {
        const size_t next = state.find('+', plus + 1);
        node.flags.insert(std::string(state.substr(
            plus + 1, next == std::string_view::npos ? std::string_view::npos : next - plus - 1)));
        plus = next;
    }
    if (!node.state.empty() && node.state.back() == '*') {
        node.state.pop_back();
        node.flags.insert("NOT_RESPONDING");
    }
    node.slurmd_start = ParseSlurmTime(Field(line, "SlurmdStartTime"));
    // Reason is free text, then " [user@time]"; it is the last field scontrol prints.
    const size_t reason = line.find(" Reason=");
    if (reason != std::string_view::npos) {
        std::string_view text = line.substr(reason + 8);
        const size_t stamp = text.rfind(" [");
        if (stamp != std::string_view::npos && text.back() == ']') text = text.substr(0, stamp);
        node.reason = std::string(text);
    }
    return node;
}

}  // namespace

int64_t ParseSlurmTime(std::string_view text) {
    std::tm tm{};
    const std::string s(text);
    const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr || *end != '\0') return 0;
    tm.tm_isdst = -1;
    return int64_t(mktime(&tm));
}

std::vector<SlurmNode> ParseShowNodes(std::string_view text) {
    std::vector<SlurmNode> nodes;
    while (!text.empty()) {
        const size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (!line.starts_with("NodeName=")) continue;
        nodes.push_back(ParseLine(line));
    }
    return nodes;
}

Result<std::string> SlurmClient::Scontrol(std::vector<std::string> args,
                                          const std::string& conf) const {
    args.insert(args.begin(), "scontrol");
    std::vector<std::pair<std::string, std::string>> env;
    if (!conf.empty()) env.emplace_back("SLURM_CONF", conf);
    auto ran = RunCommand(args, env, timeout_);
    if (!ran) {
        // A controller that does not answer in time may answer later: worth another try.
        return Unavailable("slurm controller" +
                           (slurm_conf_.empty() ? "" : " (" + slurm_conf_ + ")") + ": " +
                           ran.error().message);
    }
    if (ran->exit_status != 0) {
        std::string why = ran->err.empty() ? ran->out : ran->err;
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        if (why.find("Invalid node name") != std::string::npos) return NotFound(why);
        // Everything else (connection refused, timeouts, socket errors) is the controller being
        // unreachable for now.
        return Unavailable("scontrol " + args[1] + " " + (args.size() > 2 ? args[2] : "") + ": " +
                           why);
    }
    return std::move(ran->out);
}

Result<SlurmNode> SlurmClient::Node(const std::string& name) const {
    NR_ASSIGN_OR_RETURN(auto out, Scontrol({"show", "node", "-o", name}));
    auto nodes = ParseShowNodes(out);
    for (auto& node : nodes) {
        if (node.name == name) return std::move(node);
    }
    return NotFound("slurm node " + name + " not found");
}

Result<std::vector<SlurmNode>> SlurmClient::Nodes() const {
    NR_ASSIGN_OR_RETURN(auto out, Scontrol({"show", "node", "-o"}));
    return ParseShowNodes(out);
}

Result<std::vector<SlurmNode>> SlurmClient::NodesReading(const std::string& listing_conf) const {
    NR_ASSIGN_OR_RETURN(auto out, Scontrol({"show", "node", "-o"}, listing_conf));
    return ParseShowNodes(out);
}

Status SlurmClient::Drain(const std::string& name, const std::string& reason) const {
    NR_ASSIGN_OR_RETURN(
        auto out, Scontrol({"update", "NodeName=" + name, "State=DRAIN", "Reason=" + reason}));
    (void)out;
    return OkStatus();
}

Status SlurmClient::Resume(const std::string& name) const {
    NR_ASSIGN_OR_RETURN(auto out, Scontrol({"update", "NodeName=" + name, "State=RESUME"}));
    (void)out;
    return OkStatus();
}

}  // namespace noderepair::infra
