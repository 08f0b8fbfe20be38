#include "api/router.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace noderepair::api {
namespace {

using Segments = std::vector<std::string>;

Route MakeRoute(std::string method, Segments pattern) {
    return {std::move(method), std::move(pattern), Access::Open(), [](Call&, Responder) {}};
}

// The shape of the real route table (docs/http-api.md 4).
Router ApiLikeRouter() {
    const Segments remediations = {"v1",        "compute", "clusters",    "{}",
                                   "instances", "{}",      "remediations"};
    auto under = [&](Segments more) {
        Segments s = remediations;
        s.insert(s.end(), more.begin(), more.end());
        return s;
    };
    Router router;
    router.Add(MakeRoute("GET", {"healthz"}));
    router.Add(MakeRoute("POST", remediations));
    router.Add(MakeRoute("GET", remediations));
    router.Add(MakeRoute("GET", under({"{}"})));
    router.Add(MakeRoute("POST", under({"{}", "approve"})));
    router.Add(MakeRoute("POST", under({"{}", "cancel"})));
    router.Add(MakeRoute("GET", {"v1", "compute", "hosts"}));
    router.Add(MakeRoute("POST", {"v1", "compute", "hosts", "{}:cordon"}));
    router.Add(MakeRoute("POST", {"v1", "compute", "hosts", "{}:uncordon"}));
    router.Add(MakeRoute("POST", {"v1", "engine:pause"}));
    return router;
}

Segments Remediations(std::string cluster, std::string instance) {
    return {"v1",        "compute",           "clusters",    std::move(cluster),
            "instances", std::move(instance), "remediations"};
}

TEST(Router, MatchesLiteralPath) {
    const Router router = ApiLikeRouter();
    const RouteMatch m = router.Match("GET", {"healthz"});
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, Segments{"healthz"});
    EXPECT_TRUE(m.params.empty());
}

TEST(Router, CapturesParametersInOrder) {
    const Router router = ApiLikeRouter();
    Segments path = Remediations("c-1", "i-9");
    path.push_back("r-7");
    const RouteMatch m = router.Match("GET", path);
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->method, "GET");
    EXPECT_EQ(m.route->pattern.size(), 8u);
    EXPECT_EQ(m.params, (Segments{"c-1", "i-9", "r-7"}));
}

TEST(Router, PicksTheRouteOfTheMethod) {
    const Router router = ApiLikeRouter();
    const RouteMatch post = router.Match("POST", Remediations("c", "-"));
    const RouteMatch get = router.Match("GET", Remediations("c", "-"));
    ASSERT_NE(post.route, nullptr);
    ASSERT_NE(get.route, nullptr);
    EXPECT_EQ(post.route->method, "POST");
    EXPECT_EQ(get.route->method, "GET");
    EXPECT_NE(post.route, get.route);
    EXPECT_EQ(get.params, (Segments{"c", "-"}));
}

TEST(Router, VerbSegmentCapturesWhatPrecedesTheVerb) {
    const Router router = ApiLikeRouter();
    const RouteMatch cordon =
        router.Match("POST", {"v1", "compute", "hosts", "gpu-host-01:cordon"});
    ASSERT_NE(cordon.route, nullptr);
    EXPECT_EQ(cordon.route->pattern.back(), "{}:cordon");
    EXPECT_EQ(cordon.params, Segments{"gpu-host-01"});
    const RouteMatch uncordon =
        router.Match("POST", {"v1", "compute", "hosts", "gpu-host-01:uncordon"});
    ASSERT_NE(uncordon.route, nullptr);
    EXPECT_EQ(uncordon.route->pattern.back(), "{}:uncordon");
    EXPECT_EQ(uncordon.params, Segments{"gpu-host-01"});
}

TEST(Router, VerbSegmentNeedsANameAndTheExactVerb) {
    const Router router = ApiLikeRouter();
    for (const char* segment : {":cordon", "gpu-host-01", "gpu-host-01:cordonx",
                                "gpu-host-01:drain", "gpu-host-01cordon", "cordon"}) {
        const RouteMatch m = router.Match("POST", {"v1", "compute", "hosts", segment});
        EXPECT_EQ(m.route, nullptr) << segment;
        EXPECT_FALSE(m.path_known) << segment;
    }
}

TEST(Router, LiteralVerbSegment) {
    const Router router = ApiLikeRouter();
    EXPECT_NE(router.Match("POST", {"v1", "engine:pause"}).route, nullptr);
    EXPECT_EQ(router.Match("POST", {"v1", "engine:resume"}).route, nullptr);
    EXPECT_EQ(router.Match("POST", {"v1", "engine"}).route, nullptr);
}

TEST(Router, KnownPathWithOtherMethodIsPathKnown) {
    const Router router = ApiLikeRouter();
    const RouteMatch del = router.Match("DELETE", Remediations("c", "i"));
    EXPECT_EQ(del.route, nullptr);
    EXPECT_TRUE(del.path_known);  // 501 UNIMPLEMENTED
    const RouteMatch get_cordon =
        router.Match("GET", {"v1", "compute", "hosts", "gpu-host-01:cordon"});
    EXPECT_EQ(get_cordon.route, nullptr);
    EXPECT_TRUE(get_cordon.path_known);
    const RouteMatch post_health = router.Match("POST", {"healthz"});
    EXPECT_EQ(post_health.route, nullptr);
    EXPECT_TRUE(post_health.path_known);
}

TEST(Router, UnknownPathIsNotKnown) {
    const Router router = ApiLikeRouter();
    for (const Segments& path :
         {Segments{}, Segments{"v1"}, Segments{"v2", "compute", "hosts"},
          Segments{"v1", "compute", "hosts", "h", "extra"}, Segments{"healthz", ""},
          Segments{"HEALTHZ"}, Segments{"v1", "compute", "clusters", "c", "instances", "i"}}) {
        const RouteMatch m = router.Match("GET", path);
        EXPECT_EQ(m.route, nullptr);
        EXPECT_FALSE(m.path_known);  // 404 NOT_FOUND
    }
}

TEST(Router, ParameterSegmentMustNotBeEmpty) {
    const Router router = ApiLikeRouter();
    const RouteMatch m = router.Match("GET", Remediations("", "i"));
    EXPECT_EQ(m.route, nullptr);
    EXPECT_FALSE(m.path_known);
}

TEST(Router, MethodIsCaseSensitive) {
    const Router router = ApiLikeRouter();
    const RouteMatch m = router.Match("get", {"healthz"});
    EXPECT_EQ(m.route, nullptr);
    EXPECT_TRUE(m.path_known);
}

TEST(Router, ParamsOfAFailedPatternDoNotLeak) {
    Router router;
    router.Add(MakeRoute("GET", {"a", "{}", "x"}));
    router.Add(MakeRoute("GET", {"a", "{}", "y"}));
    const RouteMatch m = router.Match("GET", {"a", "p", "y"});
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern.back(), "y");
    EXPECT_EQ(m.params, Segments{"p"});
}

TEST(Router, FirstMatchingRouteWins) {
    Router router;
    router.Add(MakeRoute("GET", {"items", "special"}));
    router.Add(MakeRoute("GET", {"items", "{}"}));
    const RouteMatch special = router.Match("GET", {"items", "special"});
    ASSERT_NE(special.route, nullptr);
    EXPECT_EQ(special.route->pattern.back(), "special");
    EXPECT_TRUE(special.params.empty());
    const RouteMatch other = router.Match("GET", {"items", "other"});
    ASSERT_NE(other.route, nullptr);
    EXPECT_EQ(other.params, Segments{"other"});
}

TEST(Router, MatchAfterAWrongMethodRouteOfTheSamePath) {
    Router router;
    router.Add(MakeRoute("POST", {"things", "{}"}));
    router.Add(MakeRoute("GET", {"things", "{}"}));
    const RouteMatch m = router.Match("GET", {"things", "t1"});
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->method, "GET");
    EXPECT_EQ(m.params, Segments{"t1"});
}

TEST(Router, EmptyRouterKnowsNothing) {
    const Router router;
    const RouteMatch m = router.Match("GET", {"healthz"});
    EXPECT_EQ(m.route, nullptr);
    EXPECT_FALSE(m.path_known);
}

TEST(Router, KeepsEveryRouteWithItsAccessInOrder) {
    Router router;
    router.Add({"GET", {"healthz"}, Access::Open(), [](Call&, Responder) {}});
    router.Add({"POST",
                {"v1", "engine:pause"},
                Access::Token(auth::Role::kAdmin, Scope::kUnscopedOnly),
                [](Call&, Responder) {}});
    ASSERT_EQ(router.routes().size(), 2u);
    EXPECT_TRUE(router.routes()[0].access.open());
    EXPECT_EQ(router.routes()[0].label, "/healthz");
    EXPECT_FALSE(router.routes()[1].access.open());
    EXPECT_EQ(router.routes()[1].access.role(), auth::Role::kAdmin);
    EXPECT_EQ(router.routes()[1].access.scope(), Scope::kUnscopedOnly);
}

// A route scoped by its path's cluster must have that cluster as its first parameter, or the
// check would read something else.
TEST(RouterDeathTest, RefusesAPathClusterScopeWithoutAClusterInThePath) {
    Router router;
    EXPECT_DEATH(router.Add({"GET",
                             {"v1", "sim", "instances", "{}", "faults"},
                             Access::Token(auth::Role::kViewer, Scope::kPathCluster),
                             [](Call&, Responder) {}}),
                 "cluster id as its first parameter");
}

}  // namespace
}  // namespace noderepair::api
