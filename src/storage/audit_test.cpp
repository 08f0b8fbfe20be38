#include "storage/audit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace noderepair::storage {
namespace {

// The chain as a database would hold it, records in seq order, editable like a table.
class MemoryAudit final : public AuditReads {
public:
    std::vector<AuditRecord> records;
    AuditHead head{0, std::string(kAuditGenesisHash)};

    void Append(std::string action, std::string detail) {
        AuditRecord r;
        r.seq = head.seq + 1;
        r.time = FromMicros(1'700'000'000'000'000 + r.seq);
        r.actor = "alice";
        r.action = std::move(action);
        r.target = "hosts/h" + std::to_string(r.seq);
        r.detail = std::move(detail);
        r.hash = AuditHash(head.hash, r);
        head = {r.seq, r.hash};
        records.push_back(std::move(r));
    }
    void SortBySeq() {
        std::sort(records.begin(), records.end(),
                  [](const auto& a, const auto& b) { return a.seq < b.seq; });
    }

    Result<std::vector<AuditRecord>> List(int64_t after_seq, int limit) override {
        std::vector<AuditRecord> page;
        for (const auto& r : records) {
            if (r.seq > after_seq && int(page.size()) < limit) page.push_back(r);
        }
        return page;
    }
    Result<AuditHead> Head() override { return head; }
};

MemoryAudit ChainOf(int n) {
    MemoryAudit audit;
    for (int i = 0; i < n; ++i)
        audit.Append("host.cordon", R"({"n":")" + std::to_string(i) + "\"}");
    return audit;
}

AuditVerdict Verify(MemoryAudit& audit, std::optional<std::string> head = std::nullopt) {
    auto verdict = VerifyAuditChain(audit, head);
    EXPECT_TRUE(verdict);
    return verdict ? *verdict : AuditVerdict{};
}

TEST(AuditHash, CoversThePreviousHashAndEveryField) {
    AuditRecord r{1, FromMicros(5), "alice", "host.cordon", "hosts/h1", "{}", ""};
    const std::string base = AuditHash(kAuditGenesisHash, r);
    EXPECT_EQ(base.size(), 64u);
    EXPECT_EQ(base, AuditHash(kAuditGenesisHash, r));
    std::vector<AuditRecord> changed(7, r);
    changed[0].seq = 2;
    changed[1].time = FromMicros(6);
    changed[2].actor = "bob";
    changed[3].action = "host.uncordon";
    changed[4].target = "hosts/h2";
    changed[5].detail = "{ }";
    // Moving text from one field to the next changes the hash too: fields are length-prefixed.
    changed[6].actor = "alicehost.cordon";
    changed[6].action = "";
    for (const auto& c : changed) EXPECT_NE(AuditHash(kAuditGenesisHash, c), base);
    EXPECT_NE(AuditHash(std::string(64, '1'), r), base);
}

TEST(VerifyAuditChain, AnIntactChainReportsItsLengthAndHead) {
    MemoryAudit audit = ChainOf(2500);  // more than one page of the walk
    AuditVerdict v = Verify(audit);
    EXPECT_TRUE(v.intact) << v.problem;
    EXPECT_EQ(v.checked, 2500);
    EXPECT_EQ(v.head, audit.head.hash);
    MemoryAudit empty;
    v = Verify(empty);
    EXPECT_TRUE(v.intact);
    EXPECT_EQ(v.checked, 0);
    EXPECT_EQ(v.head, kAuditGenesisHash);
}

TEST(VerifyAuditChain, AChangedRecordIsNamed) {
    MemoryAudit audit = ChainOf(5);
    audit.records[2].detail = R"({"n":"changed"})";
    AuditVerdict v = Verify(audit);
    EXPECT_FALSE(v.intact);
    EXPECT_EQ(v.checked, 2);
    EXPECT_NE(v.problem.find("record 3 was changed"), std::string::npos) << v.problem;
}

TEST(VerifyAuditChain, ARemovedRecordIsNamed) {
    MemoryAudit audit = ChainOf(5);
    audit.records.erase(audit.records.begin() + 1);
    AuditVerdict v = Verify(audit);
    EXPECT_FALSE(v.intact);
    EXPECT_NE(v.problem.find("record 2 was removed"), std::string::npos) << v.problem;
    audit = ChainOf(5);
    audit.records.erase(audit.records.begin());
    v = Verify(audit);
    EXPECT_NE(v.problem.find("record 1 was removed"), std::string::npos) << v.problem;
}

TEST(VerifyAuditChain, SwappedRecordsAreNamedByTheFirstOutOfPlace) {
    MemoryAudit audit = ChainOf(5);
    std::swap(audit.records[1].seq, audit.records[3].seq);
    audit.SortBySeq();
    AuditVerdict v = Verify(audit);
    EXPECT_FALSE(v.intact);
    EXPECT_NE(v.problem.find("record 2 was changed or reordered"), std::string::npos) << v.problem;
}

TEST(VerifyAuditChain, RecordsCutOffTheEndAreCaughtWithTheHeadHash) {
    MemoryAudit audit = ChainOf(5);
    const std::string head = audit.head.hash;
    audit.records.pop_back();
    // The head row still names record 5.
    AuditVerdict v = Verify(audit);
    EXPECT_FALSE(v.intact);
    EXPECT_NE(v.problem.find("record 5 and any after it were removed"), std::string::npos)
        << v.problem;
    // Moving the head row back too hides it, but not from a head hash seen earlier.
    audit.head = {4, audit.records.back().hash};
    EXPECT_TRUE(Verify(audit).intact);
    v = Verify(audit, head);
    EXPECT_FALSE(v.intact);
    EXPECT_NE(v.problem.find("record 5 and any after it were removed"), std::string::npos)
        << v.problem;
}

TEST(VerifyAuditChain, AnOlderHeadIsStillInTheChain) {
    MemoryAudit audit = ChainOf(3);
    const std::string older = audit.head.hash;
    audit.Append("host.uncordon", "{}");
    EXPECT_TRUE(Verify(audit, older).intact);
    EXPECT_TRUE(Verify(audit, std::string(kAuditGenesisHash)).intact);
    EXPECT_FALSE(Verify(audit, std::string(64, 'f')).intact);
}

TEST(AuditDetail, IsAJsonObjectOfTheNonEmptyFields) {
    EXPECT_EQ(AuditDetail({{"a", "1"}, {"b", ""}, {"c", "say \"hi\""}}),
              R"({"a":"1","c":"say \"hi\""})");
    EXPECT_EQ(AuditDetail({}), "{}");
    EXPECT_EQ(AuditList({"c1", "c2"}), "c1,c2");
}

}  // namespace
}  // namespace noderepair::storage
