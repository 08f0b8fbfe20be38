#include "storage/audit.hpp"

#include "common/ids.hpp"
#include "common/json.hpp"

namespace noderepair::storage {
namespace {

void AppendField(std::string& out, std::string_view field) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
    out += '\n';
}

}  // namespace

std::string AuditHash(std::string_view previous_hash, const AuditRecord& record) {
    std::string message;
    message.reserve(previous_hash.size() + record.actor.size() + record.action.size() +
                    record.target.size() + record.detail.size() + 64);
    AppendField(message, previous_hash);
    AppendField(message, std::to_string(record.seq));
    AppendField(message, std::to_string(ToMicros(record.time)));
    AppendField(message, record.actor);
    AppendField(message, record.action);
    AppendField(message, record.target);
    AppendField(message, record.detail);
    return Sha256Hex(message);
}

std::string AuditDetail(
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    std::string out;
    JsonWriter json(out);
    json.BeginObject();
    for (const auto& [key, value] : fields) json.OptionalString(key, value);
    json.EndObject();
    return out;
}

std::string AuditList(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ',';
        out += item;
    }
    return out;
}

Result<AuditVerdict> VerifyAuditChain(AuditReads& reads,
                                      const std::optional<std::string>& expected_head) {
    constexpr int kPage = 1000;
    AuditVerdict verdict;
    verdict.head = std::string(kAuditGenesisHash);
    bool head_seen = expected_head && *expected_head == kAuditGenesisHash;
    auto fail = [&verdict](std::string problem) {
        verdict.intact = false;
        verdict.problem = std::move(problem);
        return verdict;
    };
    while (true) {
        NR_ASSIGN_OR_RETURN(auto page, reads.List(verdict.checked, kPage));
        for (const auto& record : page) {
            const int64_t expected_seq = verdict.checked + 1;
            if (record.seq != expected_seq) {
                return fail("record " + std::to_string(expected_seq) +
                            " was removed: the chain goes from record " +
                            std::to_string(verdict.checked) + " to record " +
                            std::to_string(record.seq));
            }
            if (AuditHash(verdict.head, record) != record.hash) {
                return fail("record " + std::to_string(record.seq) +
                            " was changed or reordered: its hash does not match its contents "
                            "and the record before it");
            }
            verdict.head = record.hash;
            ++verdict.checked;
            if (expected_head && record.hash == *expected_head) head_seen = true;
        }
        if (int(page.size()) < kPage) break;
    }
    const std::string last = std::to_string(verdict.checked);
    const std::string next = std::to_string(verdict.checked + 1);
    if (expected_head && !head_seen) {
        return fail("record " + next + " and any after it were removed: the chain ends at record " +
                    last + " and never reaches head " + *expected_head);
    }
    NR_ASSIGN_OR_RETURN(auto head, reads.Head());
    if (head.seq > verdict.checked) {
        return fail("record " + next + " and any after it were removed: the chain ends at record " +
                    last + " but its head row names record " + std::to_string(head.seq));
    }
    if (head.seq != verdict.checked || head.hash != verdict.head) {
        return fail("the head row (record " + std::to_string(head.seq) +
                    ") does not match the chain's last record " + last);
    }
    return verdict;
}

}  // namespace noderepair::storage
