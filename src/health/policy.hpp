// The alert policy (docs/http-api.md 5): which alert asks for which remediation mode and how severe
// it is. The default table is the contract's; `automation.rules` in the config overrides it.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/status.hpp"
#include "model/alert.hpp"
#include "model/remediation.hpp"

namespace noderepair::health {

struct Rule {
    std::optional<model::Mode> mode;  // nullopt: record and link only
    model::Severity severity = model::Severity::kWarning;
};

class Policy {
public:
    // `overrides`: alert name -> a mode's wire name (REMEDIATION_MODE_… or its short form
    // VM_ONLY, …) or "none". Unknown mode names are an error.
    static Result<Policy> WithOverrides(const std::map<std::string, std::string>& overrides);
    Policy();

    Rule RuleFor(const model::Alert& alert) const;

private:
    std::map<std::string, std::optional<model::Mode>> modes_;
};

// Lighter to heavier: REBOOT_VM < VM_ONLY < HOST_AWARE (docs/http-api.md 5). Other modes rank 0:
// they are never reached by escalation.
int EscalationRank(model::Mode mode);

}  // namespace noderepair::health
