#include "api/api.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/tokens.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::api {
namespace {

using auth::Role;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;
using namespace std::chrono_literals;

constexpr Role kRoles[] = {Role::kViewer, Role::kOperator, Role::kApprover, Role::kAdmin};

// The scopes a token of the matrix has, against requests aimed at cluster c1 of the test fleet
// (c1: i1..i4 on h1..h4; c2: j1 on h5, j2 without a VM).
enum class TokenScope { kUnscoped, kTarget, kOther };
constexpr TokenScope kScopes[] = {TokenScope::kUnscoped, TokenScope::kTarget, TokenScope::kOther};

const char* NameOf(TokenScope scope) {
    switch (scope) {
        case TokenScope::kUnscoped:
            return "unscoped";
        case TokenScope::kTarget:
            return "scoped to c1";
        case TokenScope::kOther:
            return "scoped to c2";
    }
    return "?";
}

// What the matrix expects of one request, from the route's declaration alone.
enum class Expect { kAllowed, kForbidden, kNotFound };

Expect Expected(const Access& access, Role role, TokenScope scope) {
    if (int(role) < int(access.role())) return Expect::kForbidden;
    switch (access.scope()) {
        case Scope::kPathCluster:
            return scope == TokenScope::kOther ? Expect::kForbidden : Expect::kAllowed;
        case Scope::kUnscopedOnly:
            return scope == TokenScope::kUnscoped ? Expect::kAllowed : Expect::kForbidden;
        case Scope::kFaultInstance:
        case Scope::kHostOfCluster:
            return scope == TokenScope::kOther ? Expect::kNotFound : Expect::kAllowed;
        case Scope::kListedClusters:
        case Scope::kHostInstances:
        case Scope::kAlertInstances:
        case Scope::kFleetRead:
            return Expect::kAllowed;
    }
    return Expect::kForbidden;
}

// The names of cluster c1's things, as JSON strings: none may reach a token scoped to c2.
const std::vector<std::string> kTargetNames = {"\"c1\"", "\"i1\"", "\"i2\"", "\"i3\"", "\"i4\"",
                                               "\"h1\"", "\"h2\"", "\"h3\"", "\"h4\""};

class ApiAccessTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = storage::test_support::OpenWithTestFleet("sqlite:" + dir_.path() + "/api.db");
        ASSERT_NE(store_, nullptr);
        // The simulated world runs the fleet's VMs where the fleet file puts them.
        ASSERT_TRUE(storage::test_support::IsOk(store_->WriteAndWait([](storage::Txn& txn) {
            return txn.Simulated().Adopt({{"i1", "h1"}, {"i2", "h2"}, {"j1", "h5"}});
        })));
        authenticator_ = std::make_unique<auth::Authenticator>(*store_, clock_);
        remediations_ = std::make_unique<remediation::RemediationService>(*store_, lifecycle_);
        inventory_ = std::make_unique<inventory::InventoryService>(*store_);
        engine_ = std::make_unique<engine::EngineControl>(*store_);
        health::AutomationOptions roomy;
        roomy.max_active_fraction = 1.0;
        health_ = std::make_unique<health::HealthService>(*store_, clock_, health::Policy(), roomy,
                                                          health::CheckOptions{}, lifecycle_);
        watch_ = std::make_unique<WatchHub>(*store_);
        simulated_ = std::make_unique<providers::simulated::SimulatedFaults>(*store_, clock_);
        api_ = std::make_unique<Api>(
            ApiServices{*store_, *authenticator_, *remediations_, *inventory_, *engine_,
                        rate_limiter_, *health_, *watch_, metrics_, [] { return size_t(0); },
                        /*log_requests=*/false, simulated_.get()},
            /*worker_threads=*/0);
    }

    void TearDown() override {
        api_.reset();
        if (watch_) watch_->Stop();
        health_.reset();
        if (store_) store_->Close();
    }

    // A token of `role` and `scope`, made once.
    const std::string& Token(Role role, TokenScope scope) {
        auto key = std::make_pair(role, scope);
        if (auto found = tokens_.find(key); found != tokens_.end()) return found->second;
        storage::TokenRecord record;
        record.name = std::string(auth::RoleName(role)) + "-" + std::to_string(int(scope));
        record.role = role;
        if (scope == TokenScope::kTarget) record.clusters = {"c1"};
        if (scope == TokenScope::kOther) record.clusters = {"c2"};
        auto token = auth::CreateToken(*store_, record);
        EXPECT_TRUE(token) << token.error().message;
        return tokens_[key] = token ? *token : "";
    }

    // Sends one request through Api::Handle and waits (10 s at most) for its answer.
    HttpResponse Send(const std::string& method, std::vector<std::string> segments,
                      std::string body, const std::string& token) {
        HttpRequest request;
        request.method = method;
        request.segments = std::move(segments);
        request.body = std::move(body);
        request.content_type = "application/json";
        request.request_id = "matrix";
        if (!token.empty()) request.authorization = "Bearer " + token;
        auto promise = std::make_shared<std::promise<HttpResponse>>();
        auto answer = promise->get_future();
        api_->Handle(std::move(request),
                     [promise](HttpResponse r) { promise->set_value(std::move(r)); });
        if (answer.wait_for(10s) != std::future_status::ready) {
            ADD_FAILURE() << "no answer within 10 s";
            return HttpResponse{.status = 0};
        }
        return answer.get();
    }

    // The path of `route` aimed at cluster c1: each parameter by the segment before it.
    std::optional<std::vector<std::string>> TargetPath(const Route& route) {
        const std::map<std::string, std::string> values = {{"clusters", "c1"},
                                                           {"instances", "i1"},
                                                           {"remediations", remediation_id_},
                                                           {"health_checks", "no-such-run"},
                                                           {"hosts", "h1"},
                                                           {"incidents", "no-such-incident"}};
        std::vector<std::string> path;
        for (size_t i = 0; i < route.pattern.size(); ++i) {
            const std::string& segment = route.pattern[i];
            if (segment != "{}" && !segment.starts_with("{}:")) {
                path.push_back(segment);
                continue;
            }
            auto value = i > 0 ? values.find(route.pattern[i - 1]) : values.end();
            if (value == values.end()) return std::nullopt;
            path.push_back(value->second + segment.substr(2));
        }
        return path;
    }

    // A body the route's handler takes; the webhook's and the fault's are unique per call, so
    // what each one stored can be told apart.
    std::string BodyFor(const Route& route) {
        ++sent_;
        if (route.method == "GET") return "";
        if (!route.access.open() && route.access.scope() == Scope::kAlertInstances) {
            return R"({"version":"4","status":"firing","alerts":[{"status":"firing",)"
                   R"("labels":{"alertname":"NpdXfsShutdown","instance_id":"i1"},)"
                   R"("startsAt":"2026-01-01T00:00:00Z","fingerprint":")" +
                   Fingerprint() + R"("}]})";
        }
        if (!route.access.open() && route.access.scope() == Scope::kFaultInstance) {
            return R"({"kind":"xid","xid":)" + std::to_string(XidCode()) + "}";
        }
        if (!route.pattern.empty() && route.pattern.back() == "remediations") {
            return R"({"mode":"REMEDIATION_MODE_VM_ONLY","reason":"matrix"})";
        }
        return "{}";
    }
    std::string Fingerprint() const { return "fp-matrix-" + std::to_string(sent_); }
    int XidCode() const { return 1000 + sent_; }

    bool AlertStored(const std::string& fingerprint) {
        auto found = storage::test_support::ReadValue<std::optional<model::Alert>>(
            *store_, [&](storage::Reader& r) { return r.Alerts().GetByFingerprint(fingerprint); });
        EXPECT_TRUE(found);
        return found && found->has_value();
    }

    bool FaultInjected(const std::string& instance_id, int xid) {
        auto faults = storage::test_support::ReadValue<std::vector<storage::SimFault>>(
            *store_, [&](storage::Reader& r) { return r.Simulated().ListFaults(instance_id); });
        EXPECT_TRUE(faults);
        if (!faults) return false;
        const std::string suffix = "-" + std::to_string(xid);
        for (const auto& fault : *faults) {
            if (fault.fingerprint.ends_with(suffix)) return true;
        }
        return false;
    }

    std::optional<model::Remediation> ActiveOf(const std::string& instance_id) {
        auto active = storage::test_support::ReadValue<std::optional<model::Remediation>>(
            *store_, [&](storage::Reader& r) { return r.Remediations().GetActive(instance_id); });
        EXPECT_TRUE(active);
        return active ? *active : std::nullopt;
    }

    ScopedTempDir dir_;
    FakeClock clock_{TestEpoch()};
    remediation::Lifecycle lifecycle_{clock_};
    std::unique_ptr<storage::Store> store_;
    std::unique_ptr<auth::Authenticator> authenticator_;
    std::unique_ptr<remediation::RemediationService> remediations_;
    std::unique_ptr<inventory::InventoryService> inventory_;
    std::unique_ptr<engine::EngineControl> engine_;
    auth::RateLimiter rate_limiter_{0, clock_};  // off: the matrix sends many requests
    std::unique_ptr<health::HealthService> health_;
    std::unique_ptr<WatchHub> watch_;
    telemetry::Metrics metrics_;
    std::unique_ptr<providers::simulated::SimulatedFaults> simulated_;
    std::unique_ptr<Api> api_;
    std::map<std::pair<Role, TokenScope>, std::string> tokens_;
    std::string remediation_id_ = "no-such-remediation";
    int sent_ = 0;
};

// docs/http-api.md 10, from the route table itself: every route, each role, each token scope.
// A route with a new scope kind or a parameter the matrix cannot aim fails here.
TEST_F(ApiAccessTest, EveryRouteAnswersEachRoleAndScopeAsItDeclares) {
    // A real remediation of c1/i1, so its routes reach the service.
    auto created =
        Send("POST", {"v1", "compute", "clusters", "c1", "instances", "i1", "remediations"},
             R"({"mode":"REMEDIATION_MODE_VM_ONLY"})", Token(Role::kAdmin, TokenScope::kUnscoped));
    ASSERT_EQ(created.status, 200) << created.body;
    remediation_id_ = boost::json::parse(created.body).as_object().at("id").as_string().c_str();

    const auto& routes = api_->router().routes();
    ASSERT_GT(routes.size(), 20u);
    int checked = 0;
    for (const Route& route : routes) {
        SCOPED_TRACE(route.method + " " + route.label);
        auto path = TargetPath(route);
        ASSERT_TRUE(path) << "the matrix cannot fill a parameter of this route: teach TargetPath";
        if (route.access.open()) {
            // Nothing that changes state is open.
            EXPECT_EQ(route.method, "GET");
            HttpResponse r = Send(route.method, *path, BodyFor(route), "");
            EXPECT_NE(r.status, 401) << r.body;
            EXPECT_NE(r.status, 403) << r.body;
            continue;
        }
        for (const std::string& token : {std::string(), std::string("nr_not-a-token")}) {
            HttpResponse r = Send(route.method, *path, BodyFor(route), token);
            EXPECT_EQ(r.status, 401) << "token '" << token << "': " << r.body;
        }
        for (Role role : kRoles) {
            for (TokenScope scope : kScopes) {
                SCOPED_TRACE(std::string(auth::RoleName(role)) + ", " + NameOf(scope));
                const std::string body = BodyFor(route);
                HttpResponse r = Send(route.method, *path, body, Token(role, scope));
                ++checked;
                switch (Expected(route.access, role, scope)) {
                    case Expect::kForbidden:
                        EXPECT_EQ(r.status, 403) << r.body;
                        break;
                    case Expect::kNotFound:
                        EXPECT_EQ(r.status, 404) << r.body;
                        break;
                    case Expect::kAllowed:
                        EXPECT_NE(r.status, 401) << r.body;
                        EXPECT_NE(r.status, 403) << r.body;
                        break;
                }
                if (r.status == 403 || r.status == 401) continue;
                const bool other = scope == TokenScope::kOther;
                switch (route.access.scope()) {
                    case Scope::kAlertInstances: {
                        ASSERT_EQ(r.status, 200) << r.body;
                        auto reply = boost::json::parse(r.body).as_object();
                        EXPECT_EQ(reply.at("alerts").as_int64(), other ? 0 : 1) << r.body;
                        EXPECT_EQ(reply.at("out_of_scope").as_int64(), other ? 1 : 0) << r.body;
                        EXPECT_EQ(AlertStored(Fingerprint()), !other);
                        break;
                    }
                    case Scope::kFaultInstance:
                        EXPECT_EQ(FaultInjected("i1", XidCode()), !other) << r.body;
                        if (!other) {
                            EXPECT_EQ(r.status, 200) << r.body;
                        }
                        break;
                    case Scope::kHostOfCluster:
                        if (other) break;  // 404, checked above
                        ASSERT_EQ(r.status, 200) << r.body;
                        EXPECT_NE(r.body.find("\"h1\""), std::string::npos) << r.body;
                        EXPECT_NE(r.body.find("\"i1\""), std::string::npos) << r.body;
                        break;
                    case Scope::kListedClusters:
                    case Scope::kHostInstances: {
                        ASSERT_EQ(r.status, 200) << r.body;
                        bool names_target = false;
                        for (const auto& name : kTargetNames) {
                            const bool listed = r.body.find(name) != std::string::npos;
                            names_target = names_target || listed;
                            if (other) {
                                EXPECT_FALSE(listed) << name << " listed: " << r.body;
                            }
                        }
                        if (!other) {
                            EXPECT_TRUE(names_target) << r.body;
                        }
                        break;
                    }
                    case Scope::kPathCluster:
                    case Scope::kUnscopedOnly:
                    case Scope::kFleetRead:
                        break;
                }
            }
        }
    }
    EXPECT_GT(checked, 0);
}

// The first hole: an operator scoped to c1 posted an alert for c2's j1, and the webhook stored it
// and created an automated remediation in c2.
TEST_F(ApiAccessTest, ScopedOperatorsWebhookForAnotherClusterStoresAndCreatesNothing) {
    const std::string payload = R"({"version":"4","status":"firing","alerts":[{"status":"firing",)"
                                R"("labels":{"alertname":"NpdXfsShutdown","instance_id":"j1"},)"
                                R"("startsAt":"2026-01-01T00:00:00Z","fingerprint":"fp-j1"}]})";
    HttpResponse r = Send("POST", {"v1", "integrations", "alertmanager"}, payload,
                          Token(Role::kOperator, TokenScope::kTarget));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"alerts":0,"remediations_created":0,"out_of_scope":1})");
    EXPECT_FALSE(AlertStored("fp-j1"));
    EXPECT_FALSE(ActiveOf("j1"));

    // The same payload from a token of c2 is taken.
    r = Send("POST", {"v1", "integrations", "alertmanager"}, payload,
             Token(Role::kOperator, TokenScope::kOther));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"alerts":1,"remediations_created":1,"out_of_scope":0})");
    EXPECT_TRUE(AlertStored("fp-j1"));
    EXPECT_TRUE(ActiveOf("j1"));
}

// The second hole: an operator scoped to c1 injected a fault into c2's j1.
TEST_F(ApiAccessTest, ScopedOperatorsFaultInAnotherClusterIsNotFoundAndInjectsNothing) {
    HttpResponse r =
        Send("POST", {"v1", "sim", "instances", "j1", "faults"}, R"({"kind":"xid","xid":79})",
             Token(Role::kOperator, TokenScope::kTarget));
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(boost::json::parse(r.body).as_object().at("code").as_int64(),
              int64_t(Code::kNotFound));
    EXPECT_FALSE(FaultInjected("j1", 79));
    EXPECT_FALSE(ActiveOf("j1"));
}

// The console's own files carry the policy that forbids framing them (docs/http-api.md 10).
TEST_F(ApiAccessTest, ConsoleFilesCarryTheirSecurityPolicy) {
    for (const std::vector<std::string>& path :
         {std::vector<std::string>{}, {"index.html"}, {"app.js"}, {"style.css"}}) {
        HttpResponse r = Send("GET", path, "", "");
        ASSERT_EQ(r.status, 200);
        std::map<std::string, std::string> headers(r.headers.begin(), r.headers.end());
        EXPECT_NE(headers["content-security-policy"].find("frame-ancestors 'none'"),
                  std::string::npos);
        EXPECT_NE(headers["content-security-policy"].find("default-src 'self'"), std::string::npos);
        EXPECT_EQ(headers["x-frame-options"], "DENY");
        EXPECT_EQ(headers["referrer-policy"], "no-referrer");
    }
}

// docs/design.md 6: a create is queued from the I/O thread that read it, with no hand-off to a
// worker, on SQLite always and elsewhere when the caller's token needs no read (its refusal of a
// bad body shows where it ran); every other route is a worker's.
TEST_F(ApiAccessTest, QueuedWritesRunOnTheCallingThreadWhenTheTokenCheckNeverWaits) {
    const Route* queues_write = nullptr;
    for (const auto& route : api_->router().routes()) {
        if (route.queues_write) queues_write = &route;
    }
    ASSERT_NE(queues_write, nullptr);
    EXPECT_EQ(queues_write->method, "POST");
    auto path = TargetPath(*queues_write);
    ASSERT_TRUE(path);
    storage::test_support::RoundTripStore round_trips(*store_);
    for (bool reads_never_wait : {true, false}) {
        // A token of its own each time, so the first request's check has it still to read.
        const std::string& token =
            Token(reads_never_wait ? Role::kAdmin : Role::kOperator, TokenScope::kUnscoped);
        Api api(ApiServices{reads_never_wait ? *store_ : round_trips, *authenticator_,
                            *remediations_, *inventory_, *engine_, rate_limiter_, *health_, *watch_,
                            metrics_, [] { return size_t(0); },
                            /*log_requests=*/false, simulated_.get()},
                /*worker_threads=*/2);
        auto answered_here = [&](const std::string& method, std::vector<std::string> segments) {
            HttpRequest request;
            request.method = method;
            request.segments = std::move(segments);
            request.authorization = "Bearer " + token;
            request.body = "not json";
            auto answered_on = std::make_shared<std::promise<std::thread::id>>();
            auto answer = answered_on->get_future();
            api.Handle(std::move(request), [answered_on](HttpResponse) {
                answered_on->set_value(std::this_thread::get_id());
            });
            EXPECT_EQ(answer.wait_for(10s), std::future_status::ready);
            return answer.valid() && answer.get() == std::this_thread::get_id();
        };
        // The token not read yet: only where its read never waits is it read here.
        EXPECT_EQ(answered_here("POST", *path), reads_never_wait);
        ASSERT_TRUE(authenticator_->Authenticate("Bearer " + token));
        EXPECT_TRUE(answered_here("POST", *path)) << reads_never_wait;
        EXPECT_FALSE(answered_here("GET", {"readyz"})) << reads_never_wait;
        EXPECT_TRUE(api.WaitForAnswers(std::chrono::steady_clock::now() + 10s));
    }
}

// docs/design.md 7: where GETs and lists are read together (PostgreSQL), they are asked from
// the I/O thread that read them, with no hand-off to a worker, when the caller's token is known
// without a read; a token to read still goes to a worker. The worker queue here takes nothing
// (every hand-off is answered 503), so each answer shows where its request ran.
TEST_F(ApiAccessTest, CoalescedReadsRunOnTheCallingThreadWhenTheTokenNeedsNoRead) {
    storage::test_support::RoundTripStore round_trips(*store_);
    remediation::RemediationService coalesced(round_trips, lifecycle_);
    const std::string& token = Token(Role::kViewer, TokenScope::kUnscoped);
    const std::vector<std::string> list = {"v1",        "compute", "clusters",    "c1",
                                           "instances", "-",       "remediations"};
    std::vector<std::string> get = list;
    get.push_back("nope");
    for (bool reads_coalesced : {true, false}) {
        Api api(ApiServices{*store_, *authenticator_, reads_coalesced ? coalesced : *remediations_,
                            *inventory_, *engine_, rate_limiter_, *health_, *watch_, metrics_,
                            [] { return size_t(0); },
                            /*log_requests=*/false, simulated_.get()},
                /*worker_threads=*/1, /*max_queued_requests=*/0);
        auto status_of = [&](const std::vector<std::string>& segments) {
            HttpRequest request;
            request.method = "GET";
            request.segments = segments;
            request.authorization = "Bearer " + token;
            auto answered = std::make_shared<std::promise<int>>();
            auto answer = answered->get_future();
            api.Handle(std::move(request),
                       [answered](HttpResponse r) { answered->set_value(r.status); });
            EXPECT_EQ(answer.wait_for(10s), std::future_status::ready);
            return answer.valid() ? answer.get() : 0;
        };
        if (reads_coalesced) {
            // Not read yet: the token check is a worker's.
            EXPECT_EQ(status_of(get), 503);
        }
        ASSERT_TRUE(authenticator_->Authenticate("Bearer " + token));
        EXPECT_EQ(status_of(get), reads_coalesced ? 404 : 503);
        EXPECT_EQ(status_of(list), reads_coalesced ? 200 : 503);
        EXPECT_TRUE(api.WaitForAnswers(std::chrono::steady_clock::now() + 10s));
    }
    EXPECT_GE(round_trips.reads(), 2);
}

}  // namespace
}  // namespace noderepair::api
