// Test support shared by the storage contract suite and the tests of the services above it:
// a temporary directory, a small fleet, remediation builders and synchronous wrappers. Test
// code only; included by *_test.cpp files.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <utility>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/inventory.hpp"
#include "model/remediation.hpp"
#include "storage/open.hpp"
#include "storage/store.hpp"

namespace noderepair::storage::test_support {

// A fresh directory under the test temp dir, removed with everything in it on destruction.
class ScopedTempDir {
public:
    ScopedTempDir() {
        std::string pattern = ::testing::TempDir() + "noderepair-test-XXXXXX";
        char* made = mkdtemp(pattern.data());
        NR_ASSERT(made != nullptr, "mkdtemp in the test temp dir");
        path_ = made;
    }
    ~ScopedTempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    ScopedTempDir(const ScopedTempDir&) = delete;
    ScopedTempDir& operator=(const ScopedTempDir&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// The private PostgreSQL server of this test run (tests/README.md): NODEREPAIR_TEST_PG, or the
// URI the ctest fixture wrote to postgres/uri under the build directory; "" when there is none.
inline std::string TestPostgresServer() {
    if (const char* env = std::getenv("NODEREPAIR_TEST_PG"); env != nullptr && *env != '\0') {
        return env;
    }
    std::ifstream file("postgres/uri");
    std::string uri;
    std::getline(file, uri);
    return uri;
}

// A URI naming a new, empty database on the test run's PostgreSQL server, or "" when there is
// no server (the caller skips).
inline std::string NewPostgresDatabase() {
    static std::atomic<int> made{0};
    const std::string server = TestPostgresServer();
    if (server.empty()) return "";
    const std::string name = "nr_test_" + std::to_string(getpid()) + "_" + std::to_string(++made);
    PGconn* conn = PQconnectdb(server.c_str());
    const std::string create = "CREATE DATABASE " + name;
    PGresult* result = PQexec(conn, create.c_str());
    const bool created = PQresultStatus(result) == PGRES_COMMAND_OK;
    std::string error = PQerrorMessage(conn);
    PQclear(result);
    PQfinish(conn);
    NR_ASSERT(created, ("CREATE DATABASE on the test server: " + error).c_str());
    // The server URI ends with its database name: swap it for the new one.
    return server.substr(0, server.rfind('/') + 1) + name;
}

// Passes for an OK Status; a failure shows the error.
inline ::testing::AssertionResult IsOk(const Status& status) {
    if (status.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << CodeName(status.error().code) << ": " << status.error().message;
}

// 2026-01-01T00:00:00Z, the start of every test clock.
inline Timestamp TestEpoch() {
    using namespace std::chrono;
    return time_point_cast<microseconds>(sys_days(year(2026) / January / 1));
}

inline model::Instance TestInstance(const std::string& id, const std::string& cluster_id,
                                    const std::string& host, int gpus = 8) {
    model::Instance i;
    i.instance_id = id;
    i.cluster_id = cluster_id;
    i.instance_name = id + "-name";
    i.num_gpus = gpus;
    i.host_name = host;
    return i;
}

// Cluster "c1" with instances i1..i4 and cluster "c2" with j1..j2, on hosts h1..h6 (8 GPUs
// each, one instance per host); j2 has no VM (evicted).
inline FleetImport TestFleet() {
    FleetImport fleet;
    for (int h = 1; h <= 6; ++h) fleet.hosts.push_back({"h" + std::to_string(h), 8, 0, false, {}});
    model::Cluster c1{"c1", "cluster one", "Ready", {}};
    for (int i = 1; i <= 4; ++i) {
        c1.gpu_worker_nodes.push_back(
            TestInstance("i" + std::to_string(i), "c1", "h" + std::to_string(i)));
    }
    model::Cluster c2{"c2", "cluster two", "Ready", {}};
    c2.gpu_worker_nodes.push_back(TestInstance("j1", "c2", "h5", 4));
    c2.gpu_worker_nodes.push_back(TestInstance("j2", "c2", ""));
    fleet.clusters = {c1, c2};
    return fleet;
}

// A remediation of `instance_id` in cluster c1 (or c2 for j*), with every required field set.
inline model::Remediation MakeRemediation(const std::string& id, const std::string& instance_id,
                                          model::State state, Timestamp create_time) {
    model::Remediation r;
    r.id = id;
    r.cluster_id = instance_id.starts_with("j") ? "c2" : "c1";
    r.instance_id = instance_id;
    r.instance_name = instance_id + "-name";
    r.mode = r.requested_mode = model::Mode::kVmOnly;
    r.trigger = model::Trigger::kManual;
    r.state = state;
    r.create_time = r.update_time = create_time;
    if (model::IsTerminal(state)) r.end_time = create_time;
    return r;
}

// Every field of two remediations, one expectation each so a failure names the field.
inline void ExpectSameRemediation(const model::Remediation& actual,
                                  const model::Remediation& expected) {
    EXPECT_EQ(actual.id, expected.id);
    EXPECT_EQ(actual.cluster_id, expected.cluster_id);
    EXPECT_EQ(actual.instance_id, expected.instance_id);
    EXPECT_EQ(actual.instance_name, expected.instance_name);
    EXPECT_EQ(actual.mode, expected.mode);
    EXPECT_EQ(actual.requested_mode, expected.requested_mode);
    EXPECT_EQ(actual.trigger, expected.trigger);
    EXPECT_EQ(actual.state, expected.state);
    EXPECT_EQ(actual.reason, expected.reason);
    EXPECT_EQ(actual.active_health_check_run_id, expected.active_health_check_run_id);
    EXPECT_EQ(actual.passive_health_check_event_id, expected.passive_health_check_event_id);
    EXPECT_EQ(actual.requested_by, expected.requested_by);
    EXPECT_EQ(actual.reviewed_by, expected.reviewed_by);
    EXPECT_EQ(actual.review_time, expected.review_time);
    EXPECT_EQ(actual.review_comment, expected.review_comment);
    EXPECT_EQ(actual.create_time, expected.create_time);
    EXPECT_EQ(actual.update_time, expected.update_time);
    EXPECT_EQ(actual.start_time, expected.start_time);
    EXPECT_EQ(actual.end_time, expected.end_time);
    EXPECT_EQ(actual.error_message, expected.error_message);
}

// One read through Store::Read; the read's error, if any, becomes the result.
template <class T, class F>
Result<T> ReadValue(Store& store, F read) {
    std::optional<T> out;
    Status status = store.Read([&](Reader& reader) -> Status {
        Result<T> got = read(reader);
        if (!got) return got.error();
        out.emplace(std::move(got).value());
        return OkStatus();
    });
    if (!status) return status.error();
    return std::move(*out);
}

inline std::optional<model::Remediation> GetStored(Store& store, const std::string& id) {
    auto got = ReadValue<std::optional<model::Remediation>>(
        store, [&](Reader& r) { return r.Remediations().Get(id); });
    NR_ASSERT(got.has_value(), "reading a remediation from a test store");
    return got.value();
}

// Opens a store, imports TestFleet(), and fails the test (returning null) if either fails.
inline std::unique_ptr<Store> OpenWithTestFleet(const std::string& db_url) {
    auto opened = OpenStore(db_url);
    if (!opened) {
        ADD_FAILURE() << "OpenStore(" << db_url << "): " << opened.error().message;
        return nullptr;
    }
    std::unique_ptr<Store> store = std::move(opened).value();
    Status imported =
        store->WriteAndWait([](Txn& txn) { return txn.Inventory().ImportFleet(TestFleet()); });
    if (!imported) {
        ADD_FAILURE() << "ImportFleet: " << imported.error().message;
        return nullptr;
    }
    return store;
}

// The test fleet's store as a database server's would be: every read a round trip (services
// then read what is asked together at once), reads counted; with `release`, the first read is
// held until it is released (10 s at most).
class RoundTripStore final : public Store {
public:
    explicit RoundTripStore(Store& inner, std::shared_future<void> release = {})
        : inner_(inner), release_(std::move(release)) {}
    void Write(TxnWork work, CommitCallback done) override {
        inner_.Write(std::move(work), std::move(done));
    }
    void AddObserver(CommitObserver* observer) override { inner_.AddObserver(observer); }
    Status Read(const std::function<Status(Reader&)>& read) override {
        if (reads_.fetch_add(1) == 0 && release_.valid()) {
            release_.wait_for(std::chrono::seconds(10));
        }
        return inner_.Read(read);
    }
    bool ReadsAreRoundTrips() const override { return true; }
    void Close() override {}
    int reads() const { return reads_.load(); }

private:
    Store& inner_;
    std::shared_future<void> release_;
    std::atomic<int> reads_{0};
};

}  // namespace noderepair::storage::test_support
