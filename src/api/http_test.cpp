#include "api/http.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>
#include <string>

#include "common/json.hpp"

namespace noderepair::api {
namespace {

namespace json = boost::json;

std::optional<std::string> Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
        if (k == name) return v;
    }
    return std::nullopt;
}

// docs/http-api.md 3, row by row.
TEST(HttpStatusFor, FollowsTheContractTable) {
    EXPECT_EQ(HttpStatusFor(Code::kInvalidArgument), 400);
    EXPECT_EQ(HttpStatusFor(Code::kFailedPrecondition), 400);
    EXPECT_EQ(HttpStatusFor(Code::kNotFound), 404);
    EXPECT_EQ(HttpStatusFor(Code::kAlreadyExists), 409);
    EXPECT_EQ(HttpStatusFor(Code::kUnauthenticated), 401);
    EXPECT_EQ(HttpStatusFor(Code::kPermissionDenied), 403);
    EXPECT_EQ(HttpStatusFor(Code::kResourceExhausted), 429);
    EXPECT_EQ(HttpStatusFor(Code::kUnimplemented), 501);
    EXPECT_EQ(HttpStatusFor(Code::kInternal), 500);
    EXPECT_EQ(HttpStatusFor(Code::kUnavailable), 503);
}

// The rest of the grpc-gateway mapping, which the contract inherits.
TEST(HttpStatusFor, FollowsGrpcGatewayForTheOtherCodes) {
    EXPECT_EQ(HttpStatusFor(Code::kOk), 200);
    EXPECT_EQ(HttpStatusFor(Code::kCancelled), 499);
    EXPECT_EQ(HttpStatusFor(Code::kUnknown), 500);
    EXPECT_EQ(HttpStatusFor(Code::kDeadlineExceeded), 504);
    EXPECT_EQ(HttpStatusFor(Code::kAborted), 409);
    EXPECT_EQ(HttpStatusFor(Code::kOutOfRange), 400);
    EXPECT_EQ(HttpStatusFor(Code::kDataLoss), 500);
}

TEST(ErrorResponse, BodyIsAGoogleRpcStatus) {
    const HttpResponse r = ErrorResponse(NotFound("remediation \"x\" not found"));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.content_type, "application/json");
    auto body = ParseStrictJson(r.body);
    ASSERT_TRUE(body) << r.body;
    const json::object& o = body->as_object();
    EXPECT_EQ(o.size(), 3u);
    EXPECT_EQ(o.at("code").as_int64(), 5);
    EXPECT_EQ(o.at("message").as_string(), "remediation \"x\" not found");
    EXPECT_TRUE(o.at("details").as_array().empty());
}

TEST(ErrorResponse, CodeNumbersAreTheGoogleRpcOnes) {
    const std::pair<Code, int64_t> codes[] = {
        {Code::kInvalidArgument, 3},   {Code::kFailedPrecondition, 9}, {Code::kNotFound, 5},
        {Code::kAlreadyExists, 6},     {Code::kUnauthenticated, 16},   {Code::kPermissionDenied, 7},
        {Code::kResourceExhausted, 8}, {Code::kUnimplemented, 12},     {Code::kInternal, 13},
        {Code::kUnavailable, 14}};
    for (const auto& [code, number] : codes) {
        const HttpResponse r = ErrorResponse({code, "m"});
        EXPECT_EQ(json::parse(r.body).at("code").as_int64(), number) << CodeName(code);
        EXPECT_EQ(r.status, HttpStatusFor(code)) << CodeName(code);
    }
}

// docs/http-api.md 3: non-retriable 4xx and 501 say x-should-retry: false.
TEST(ErrorResponse, NonRetriableErrorsSayShouldRetryFalse) {
    for (Code code :
         {Code::kInvalidArgument, Code::kFailedPrecondition, Code::kNotFound, Code::kAlreadyExists,
          Code::kUnauthenticated, Code::kPermissionDenied, Code::kUnimplemented}) {
        const HttpResponse r = ErrorResponse({code, "m"});
        EXPECT_EQ(Header(r, "x-should-retry"), "false") << CodeName(code);
    }
}

TEST(ErrorResponse, RetriableErrorsLeaveTheSdkToRetry) {
    for (Code code :
         {Code::kResourceExhausted, Code::kUnavailable, Code::kAborted, Code::kInternal}) {
        const HttpResponse r = ErrorResponse({code, "m"});
        EXPECT_EQ(Header(r, "x-should-retry"), std::nullopt) << CodeName(code);
    }
}

// docs/http-api.md 10: past a bound the answer is 503 UNAVAILABLE with Retry-After.
TEST(ErrorResponse, UnavailableSaysWhenToRetry) {
    EXPECT_EQ(Header(ErrorResponse(Unavailable("queue full")), "retry-after"), "1");
    EXPECT_EQ(Header(ErrorResponse(InvalidArgument("bad")), "retry-after"), std::nullopt);
}

// docs/http-api.md 3: INTERNAL is for bugs, and "the message never leaks internals" (here, the
// SQLite text that storage/sqlite/connection.cpp puts into Internal errors).
TEST(ErrorResponse, InternalErrorsDoNotLeakTheirMessage) {
    const HttpResponse r =
        ErrorResponse(Internal("query failed: no such table: remediations_by_cluster_create"));
    EXPECT_EQ(r.status, 500);
    const json::value body = json::parse(r.body);
    EXPECT_EQ(body.at("code").as_int64(), 13);
    const std::string message(body.at("message").as_string());
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find("no such table"), std::string::npos) << message;
    EXPECT_EQ(message.find("remediations_by_cluster_create"), std::string::npos) << message;
}

TEST(JsonResponse, CarriesBodyAndStatus) {
    const HttpResponse r = JsonResponse(R"({"a":1})", 201);
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, R"({"a":1})");
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(JsonResponse("{}").status, 200);
}

TEST(HttpRequest, QueryValuesUnderEitherSpellingInOrder) {
    HttpRequest request;
    request.query = {
        {"page_size", "5"}, {"state", "A"}, {"pageSize", "6"}, {"state", "B,C"}, {"other", "x"}};
    EXPECT_EQ(request.QueryValues("page_size", "pageSize"), (std::vector<std::string>{"5", "6"}));
    EXPECT_EQ(request.QueryValues("state"), (std::vector<std::string>{"A", "B,C"}));
    EXPECT_TRUE(request.QueryValues("missing", "alsoMissing").empty());
    EXPECT_TRUE(request.QueryValues("pagesize").empty());
}

TEST(HttpRequest, EmptyAliasMatchesNothingExtra) {
    HttpRequest request;
    request.query = {{"", "empty-key"}, {"state", "A"}};
    EXPECT_EQ(request.QueryValues("state"), (std::vector<std::string>{"A"}));
}

}  // namespace
}  // namespace noderepair::api
