// The routing policies on their own: consistent hashing moves only the keys of a removed backend,
// the load bound diverts a hot prefix, least-load and round-robin choose as defined, and a backend
// serving the requested model (LoRA adapter) is preferred.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "router/policy.h"
#include "router/router_server.h"

namespace kite::router {
namespace {

std::vector<Candidate> backends(int n) {
    std::vector<Candidate> cs;
    for (int i = 0; i < n; ++i) cs.push_back({i, "b" + std::to_string(i), 0, 0, false});
    return cs;
}

TEST(Policy, ParseNamesAndErrors) {
    EXPECT_EQ(*parse_policy("round-robin"), Policy::kRoundRobin);
    EXPECT_EQ(*parse_policy("least-load"), Policy::kLeastLoad);
    EXPECT_EQ(*parse_policy("prefix-cache"), Policy::kPrefixCache);
    auto bad = parse_policy("random");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("expected round-robin, least-load or prefix-cache"), std::string::npos);
}

TEST(Policy, RoundRobinCyclesThroughAll) {
    Picker p(Policy::kRoundRobin);
    auto cs = backends(3);
    std::map<int, int> hits;
    for (int i = 0; i < 30; ++i) hits[*p.pick(cs, {})]++;
    EXPECT_EQ(hits.size(), 3u);
    for (auto& [idx, n] : hits) EXPECT_EQ(n, 10) << idx;
    EXPECT_FALSE(p.pick({}, {}).has_value());
}

TEST(Policy, LeastLoadTakesFewestOutstandingTokensAndCountsWaiting) {
    Picker p(Policy::kLeastLoad);
    auto cs = backends(3);
    cs[0].outstanding_tokens = 500;
    cs[1].outstanding_tokens = 100;
    cs[2].outstanding_tokens = 300;
    EXPECT_EQ(*p.pick(cs, {}), 1);
    cs[1].waiting = 2;  // a backend's own queue (2 x 256 tokens) outweighs the router's accounting
    EXPECT_EQ(*p.pick(cs, {}), 2);
}

TEST(Policy, PrefixCacheIsStableAndMovesOnlyTheRemovedBackendsKeys) {
    Picker p(Policy::kPrefixCache, /*load_bound=*/1e9);  // no load bound: pure consistent hashing
    auto four = backends(4);
    std::map<std::string, std::string> before;
    for (int k = 0; k < 400; ++k) {
        RouteKey key{"", "system prompt " + std::to_string(k), 1};
        const int a = *p.pick(four, key);
        EXPECT_EQ(*p.pick(four, key), a);  // deterministic
        before[key.prefix] = four[a].id;
    }
    std::set<std::string> used;
    for (auto& [k, id] : before) used.insert(id);
    EXPECT_EQ(used.size(), 4u);  // spread over every backend
    std::vector<Candidate> three = {four[0], four[1], four[3]};
    for (int i = 0; i < 3; ++i) three[i].index = i;
    int moved = 0;
    for (auto& [prefix, id] : before) {
        const std::string now = three[*p.pick(three, {"", prefix, 1})].id;
        if (id != "b2") EXPECT_EQ(now, id) << prefix;  // keys of surviving backends stay put
        else ++moved;
    }
    EXPECT_GT(moved, 0);
}

TEST(Policy, PrefixCacheLoadBoundDivertsAHotPrefix) {
    Picker p(Policy::kPrefixCache, 1.25);
    auto cs = backends(2);
    RouteKey key{"", "the same hot prefix", 100};
    const int home = *p.pick(cs, key);
    cs[home].outstanding_tokens = 10000;  // far above 1.25 x the mean
    EXPECT_EQ(*p.pick(cs, key), 1 - home);
}

TEST(Policy, PrefersBackendsServingTheRequestedModel) {
    for (Policy pol : {Policy::kRoundRobin, Policy::kLeastLoad, Policy::kPrefixCache}) {
        Picker p(pol);
        auto cs = backends(3);
        cs[2].serves_model = true;
        cs[2].outstanding_tokens = 50;  // even when busier
        for (int i = 0; i < 5; ++i) EXPECT_EQ(*p.pick(cs, {"my-lora", "x", 1}), 2) << policy_name(pol);
    }
}

TEST(RouteKey, ReadsModelPromptAndCost) {
    RouteKey k = route_key_for("/v1/chat/completions",
                               R"({"model":"m1","max_tokens":40,"messages":[{"role":"system","content":"You are kite."},{"role":"user","content":"hi"}]})",
                               256);
    EXPECT_EQ(k.model, "m1");
    EXPECT_EQ(k.prefix.rfind("system: You are kite.", 0), 0u) << k.prefix;
    EXPECT_EQ(k.cost_tokens, int64_t(k.prefix.size() / 4) + 40);
    RouteKey n = route_key_for("/", R"({"prompt":"abcdefgh","adapter_name":"a","generate_config":{"max_new_tokens":7}})", 4);
    EXPECT_EQ(n.model, "a");
    EXPECT_EQ(n.prefix, "abcd");
    EXPECT_EQ(n.cost_tokens, 2 + 7);
    // Deep or broken bodies are not parsed: routed with an empty key.
    std::string deep(100000, '[');
    EXPECT_TRUE(route_key_for("/", deep, 256).prefix.empty());
    EXPECT_TRUE(route_key_for("/", "{not json", 256).prefix.empty());
}

}  // namespace
}  // namespace kite::router
