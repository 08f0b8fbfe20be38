#include "model/alert.hpp"

#include <charconv>
#include <utility>

namespace noderepair::model {
namespace {

std::string Get(const std::map<std::string, std::string>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? std::string() : it->second;
}

constexpr std::pair<std::string_view, std::string_view> kXids[] = {
    {"13", "Graphics Engine Exception"},
    {"31", "GPU memory page fault"},
    {"32", "Invalid or corrupted push buffer stream"},
    {"43", "GPU stopped processing"},
    {"45", "Preemptive cleanup, due to previous errors"},
    {"48", "Double Bit ECC Error"},
    {"61", "Internal micro-controller breakpoint/warning"},
    {"62", "Internal micro-controller halt"},
    {"63", "ECC page retirement or row remapping recording event"},
    {"64", "ECC page retirement or row remapper recording failure"},
    {"69", "Graphics Engine class error"},
    {"74", "NVLINK Error"},
    {"79", "GPU has fallen off the bus"},
    {"92", "High single-bit ECC error rate"},
    {"94", "Contained ECC error"},
    {"95", "Uncontained ECC error"},
    {"109", "Context Switch Timeout Error"},
    {"119", "GSP RPC Timeout"},
    {"120", "GSP Error"},
    {"154", "GPU recovery action changed"},
};

}  // namespace

std::string_view WireName(Severity severity) {
    switch (severity) {
        case Severity::kInfo:
            return "PHC_SEVERITY_INFO";
        case Severity::kWarning:
            return "PHC_SEVERITY_WARNING";
        case Severity::kCritical:
            return "PHC_SEVERITY_CRITICAL";
    }
    return "PHC_SEVERITY_WARNING";
}

std::string_view XidMnemonic(std::string_view code) {
    for (const auto& [xid, name] : kXids) {
        if (xid == code) return name;
    }
    return {};
}

AlertAnnotation AnnotationOf(const Alert& alert) {
    AlertAnnotation a;
    a.title = Get(alert.annotations, "summary");
    if (a.title.empty()) a.title = Get(alert.annotations, "title");
    if (a.title.empty()) a.title = alert.alert_name;
    a.description = Get(alert.annotations, "description");
    a.summary_line = Get(alert.annotations, "summary_line");
    if (a.summary_line.empty()) a.summary_line = Get(alert.annotations, "evidence");
    if (a.summary_line.empty()) a.summary_line = a.title;
    if (alert.alert_name == "DmesgXidError") {
        // `xid` holds one code or several, comma-separated; `count` (label or annotation)
        // how often they appeared.
        std::string codes = Get(alert.labels, "xid");
        if (codes.empty()) codes = Get(alert.annotations, "xid");
        std::string count_text = Get(alert.labels, "count");
        if (count_text.empty()) count_text = Get(alert.annotations, "count");
        int count = 1;
        if (!count_text.empty()) {
            auto [end, ec] =
                std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
            if (ec != std::errc() || count < 1) count = 1;
        }
        size_t start = 0;
        while (start < codes.size()) {
            size_t comma = codes.find(',', start);
            if (comma == std::string::npos) comma = codes.size();
            std::string code = codes.substr(start, comma - start);
            while (!code.empty() && code.front() == ' ') code.erase(code.begin());
            while (!code.empty() && code.back() == ' ') code.pop_back();
            if (!code.empty())
                a.xid_events.push_back({code, std::string(XidMnemonic(code)), count});
            start = comma + 1;
        }
    }
    if (alert.alert_name == "SlurmNodeUnavailable") {
        std::string reason = Get(alert.labels, "reason");
        if (reason.empty()) reason = Get(alert.annotations, "reason");
        a.slurm_reason = reason;
    }
    return a;
}

}  // namespace noderepair::model
