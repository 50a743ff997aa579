// A family's config.json with a bad or unsupported option fails to load with one line naming the
// file, the field and what was expected (shared/families checkpoints with one field changed).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model.h"

namespace kite {
namespace {

namespace fs = std::filesystem;

std::string load_error(const std::string& family, const std::function<void(nlohmann::json&)>& edit) {
    const fs::path src = fs::path(KITE_SHARED_DIR) / "families" / family;
    const fs::path dir = fs::temp_directory_path() / ("kite_family_cfg_" + std::to_string(::getpid()) + "_" + family);
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(src / "model.safetensors", dir / "model.safetensors");
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
    edit(cfg);
    std::ofstream(dir / "config.json") << cfg.dump();
    auto m = load_model(dir.string());
    fs::remove_all(dir);
    EXPECT_FALSE(m.ok()) << family;
    const std::string msg = m.ok() ? "" : m.status().message();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    return msg;
}

TEST(FamilyConfigErrors, OneLineNamingTheField) {
    struct Case {
        const char* family;
        std::function<void(nlohmann::json&)> edit;
        const char* expect;
    };
    const Case cases[] = {
        {"gemma2", [](auto& c) { c["layer_types"] = {"full_attention"}; }, "layer_types must be a list of 3 entries"},
        {"gemma2", [](auto& c) { c["layer_types"] = {"full_attention", "local", "full_attention"}; }, "layer_types[1]"},
        {"gemma3", [](auto& c) { c["use_bidirectional_attention"] = true; }, "use_bidirectional_attention"},
        {"phi3", [](auto& c) { c["rope_scaling"] = {{"type", "longrope"}, {"short_factor", {1.0}}, {"long_factor", {2.0}}}; },
         "short_factor and long_factor must have 6 entries"},
        {"phi3", [](auto& c) { c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}}; }, "must be longrope"},
        {"falcon", [](auto& c) { c["new_decoder_architecture"] = true; c["parallel_attn"] = false; }, "parallel_attn"},
        {"falcon", [](auto& c) { c["new_decoder_architecture"] = true; c["num_kv_heads"] = 3; }, "num_kv_heads = 3"},
        {"bloom", [](auto& c) { c["n_head"] = 5; }, "not a multiple of n_head = 5"},
        {"starcoder2", [](auto& c) { c["hidden_act"] = "swishy"; }, "swishy"},
        {"glm4", [](auto& c) { c["partial_rotary_factor"] = 1.5; }, "partial_rotary_factor"},
        {"gpt_neox", [](auto& c) { c["rotary_pct"] = "half"; }, "rotary_pct must be a number"},
        {"gpt_bigcode", [](auto& c) { c.erase("n_embd"); }, "missing required field n_embd"},
        {"phi", [](auto& c) { c["rope_scaling"] = {{"rope_type", "mrope"}}; }, "'mrope' is not supported"},
    };
    for (const Case& c : cases) {
        const std::string e = load_error(c.family, c.edit);
        EXPECT_NE(e.find(c.expect), std::string::npos) << c.family << ": " << e;
    }
}

}  // namespace
}  // namespace kite
