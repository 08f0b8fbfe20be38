#include "cli/enums.hpp"

#include <cctype>
#include <optional>
#include <vector>

#include "model/alert.hpp"
#include "model/remediation.hpp"

namespace noderepair::cli {
namespace {

// Every wire name of one enum, and the prefix they all share up to its last '_'.
struct EnumNames {
    std::vector<std::string_view> names;
    std::string_view prefix;
};

std::string_view CommonPrefix(const std::vector<std::string_view>& names) {
    if (names.size() < 2) return {};
    std::string_view prefix = names.front();
    for (auto name : names) {
        size_t n = 0;
        while (n < prefix.size() && n < name.size() && prefix[n] == name[n]) ++n;
        prefix = prefix.substr(0, n);
    }
    size_t cut = prefix.rfind('_');
    return cut == std::string_view::npos ? std::string_view() : prefix.substr(0, cut + 1);
}

template <class E, size_t N>
EnumNames NamesOf(const E (&values)[N]) {
    EnumNames out;
    for (E value : values) out.names.push_back(model::WireName(value));
    out.prefix = CommonPrefix(out.names);
    return out;
}

const EnumNames& Modes() {
    static const EnumNames names = NamesOf(model::kAllModes);
    return names;
}
const EnumNames& States() {
    static const EnumNames names = NamesOf(model::kAllStates);
    return names;
}
const EnumNames& Triggers() {
    static const EnumNames names = NamesOf(model::kAllTriggers);
    return names;
}
const EnumNames& Severities() {
    static constexpr model::Severity kAll[] = {model::Severity::kInfo, model::Severity::kWarning,
                                               model::Severity::kCritical};
    static const EnumNames names = NamesOf(kAll);
    return names;
}

std::optional<std::string_view> Shorten(const EnumNames& e, std::string_view wire) {
    for (auto name : e.names) {
        if (name == wire) return name.substr(e.prefix.size());
    }
    return std::nullopt;
}

Result<std::string> FromFlag(const EnumNames& e, std::string_view what, std::string_view text) {
    std::string upper;
    for (char c : text) {
        upper.push_back(c == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(c))));
    }
    std::string accepted;
    for (auto name : e.names) {
        if (upper == name || upper == name.substr(e.prefix.size())) return std::string(name);
        accepted += (accepted.empty() ? "" : ", ") + std::string(name.substr(e.prefix.size()));
    }
    return InvalidArgument("unknown " + std::string(what) + " '" + std::string(text) +
                           "'; use one of " + accepted);
}

}  // namespace

std::string ShortName(std::string_view wire) {
    for (const EnumNames* e : {&Modes(), &Triggers(), &Severities()}) {
        if (auto s = Shorten(*e, wire)) return std::string(*s);
    }
    return std::string(wire);
}

Result<std::string> ModeFromFlag(std::string_view text) { return FromFlag(Modes(), "mode", text); }
Result<std::string> StateFromFlag(std::string_view text) {
    return FromFlag(States(), "state", text);
}
Result<std::string> TriggerFromFlag(std::string_view text) {
    return FromFlag(Triggers(), "trigger", text);
}

bool IsTerminalState(std::string_view wire) {
    auto state = model::ParseState(wire);
    return state && model::IsTerminal(*state);
}

}  // namespace noderepair::cli
