// The active health check aggregate behind the store contract: runs of named tests on one
// instance, their results, and the remediation a failed run led to.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "model/health_check.hpp"

namespace noderepair::storage {

class HealthCheckReads {
public:
    virtual ~HealthCheckReads() = default;
    virtual Result<std::optional<model::HealthCheckRun>> Get(const std::string& run_id) = 0;
    // An instance's runs, newest first.
    virtual Result<std::vector<model::HealthCheckRun>> ListForInstance(
        const std::string& instance_id, int limit) = 0;
    virtual Result<std::vector<model::HealthCheckRun>> ListRunning(int limit) = 0;
    // Failed runs held back by the blast radius, oldest first.
    virtual Result<std::vector<model::HealthCheckRun>> ListWaiting(int limit) = 0;
};

class HealthCheckRepository : public HealthCheckReads {
public:
    // Inserts or replaces by id.
    virtual Status Put(const model::HealthCheckRun& run) = 0;
};

}  // namespace noderepair::storage
