// The audit trail (docs/http-api.md 10, docs/design.md 11): every change of state is a record in
// one SHA-256 hash chain. Records are made by the repositories where they write and appended
// by the backend just before each commit, so no write can forget its record and no caller can
// write one of its own: this interface only reads.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"

namespace noderepair::storage {

struct AuditRecord {
    int64_t seq = 0;  // 1, 2, 3 ... in chain order
    Timestamp time;   // when the batch that holds it committed
    std::string actor;
    std::string action;  // "remediation.create", "host.cordon", ...
    std::string target;  // what changed: "clusters/c/instances/i/remediations/r", "hosts/h"
    std::string detail;  // a JSON object
    std::string hash;    // AuditHash(the previous record's hash, this record)
};

// The chain's end as the database keeps it in one row: the last record's seq and hash.
struct AuditHead {
    int64_t seq = 0;
    std::string hash;
};

// The hash the first record chains to.
inline constexpr std::string_view kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// SHA-256 over the previous record's hash and every field of `record` but its hash, each
// length-prefixed so no two records encode alike.
std::string AuditHash(std::string_view previous_hash, const AuditRecord& record);

// A record's detail: a JSON object of string fields, in the order given; empty values are left
// out.
std::string AuditDetail(
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

// A list in a detail field: its items joined by commas.
std::string AuditList(const std::vector<std::string>& items);

class AuditReads {
public:
    virtual ~AuditReads() = default;
    // Records with seq > after_seq, oldest first, at most `limit`.
    virtual Result<std::vector<AuditRecord>> List(int64_t after_seq, int limit) = 0;
    virtual Result<AuditHead> Head() = 0;
};

// What `audit verify` found.
struct AuditVerdict {
    bool intact = true;
    int64_t checked = 0;  // records whose hash was checked
    std::string head;     // the last intact record's hash (the genesis hash for none)
    std::string problem;  // when not intact: which record, and what is wrong with it
};

// Walks the whole chain: each record must have the next seq and its hash must match. With
// `expected_head` (a head hash seen earlier), that hash must be one of the chain's, so records
// cut off the end are caught too; without it the head row must match the last record.
Result<AuditVerdict> VerifyAuditChain(AuditReads& reads,
                                      const std::optional<std::string>& expected_head);

}  // namespace noderepair::storage
