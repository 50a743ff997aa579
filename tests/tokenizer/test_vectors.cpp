// Every case of shared/tokenizers/*/vectors.shared.json (made by HF tokenizers 0.22) reproduced:
// ids, ids_with_special, decoded, decoded_skip_special.
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer_test_util.h"

namespace kite::testing {
namespace {

std::string ids_str(const std::vector<int32_t>& v) {
    std::string s;
    for (int32_t x : v) s += std::to_string(x) + " ";
    return s;
}

class VectorsTest : public ::testing::TestWithParam<const char*> {};

TEST_P(VectorsTest, MatchesHuggingFace) {
    const std::string name = GetParam();
    auto tok = family(name);
    ASSERT_TRUE(tok);
    std::ifstream f(kTokDir + name + "/vectors.shared.json");
    ASSERT_TRUE(f) << "missing vectors for " << name;
    std::stringstream ss;
    ss << f.rdbuf();
    const nlohmann::json doc = nlohmann::json::parse(ss.str());
    int failures = 0, n = 0;
    for (const auto& c : doc.at("cases")) {
        ++n;
        const std::string text = c.at("text");
        const auto want_ids = c.at("ids").get<std::vector<int32_t>>();
        const auto want_special = c.at("ids_with_special").get<std::vector<int32_t>>();
        auto ids = tok->encode(text, false);
        auto ids_s = tok->encode(text, true);
        ASSERT_TRUE(ids.ok()) << ids.status().to_string();
        ASSERT_TRUE(ids_s.ok()) << ids_s.status().to_string();
        bool bad = false;
        if (*ids != want_ids) {
            bad = true;
            if (failures < 15)
                ADD_FAILURE() << name << " ids for " << nlohmann::json(text).dump() << "\n got: " << ids_str(*ids)
                              << "\nwant: " << ids_str(want_ids);
        }
        if (*ids_s != want_special) {
            bad = true;
            if (failures < 15)
                ADD_FAILURE() << name << " ids_with_special for " << nlohmann::json(text).dump()
                              << "\n got: " << ids_str(*ids_s) << "\nwant: " << ids_str(want_special);
        }
        auto dec = tok->decode(want_special, false);
        auto dec_skip = tok->decode(want_special, true);
        ASSERT_TRUE(dec.ok() && dec_skip.ok());
        if (*dec != c.at("decoded").get<std::string>()) {
            bad = true;
            if (failures < 15)
                ADD_FAILURE() << name << " decoded for " << nlohmann::json(text).dump() << "\n got: "
                              << nlohmann::json(*dec).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                              << "\nwant: " << c.at("decoded").dump();
        }
        if (*dec_skip != c.at("decoded_skip_special").get<std::string>()) {
            bad = true;
            if (failures < 15)
                ADD_FAILURE() << name << " decoded_skip_special for " << nlohmann::json(text).dump() << "\n got: "
                              << nlohmann::json(*dec_skip).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                              << "\nwant: " << c.at("decoded_skip_special").dump();
        }
        failures += bad;
    }
    EXPECT_EQ(failures, 0) << name << ": " << failures << " of " << n << " cases differ";
    EXPECT_EQ(n, 324);
}

INSTANTIATE_TEST_SUITE_P(Families, VectorsTest, ::testing::ValuesIn(kFamilies),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                             std::string s = i.param;
                             for (char& c : s) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                             return s;
                         });

}  // namespace
}  // namespace kite::testing
