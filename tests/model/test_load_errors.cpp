// Every broken checkpoint gives one clear error naming the file or tensor and what was expected.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "model/model.h"

namespace kite {
namespace {

namespace fs = std::filesystem;
const std::string kStories = std::string(KITE_SHARED_DIR) + "/models/stories260K";

// A writable copy of stories260K in a fresh temp folder.
class BrokenCheckpoint : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("kite_ckpt_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        for (const char* f : {"config.json", "generation_config.json", "model.safetensors"})
            fs::copy_file(fs::path(kStories) / f, dir_ / f);
    }
    void TearDown() override { fs::remove_all(dir_); }
    nlohmann::json config() {
        std::ifstream in(dir_ / "config.json");
        return nlohmann::json::parse(in);
    }
    void write_config(const nlohmann::json& j) { std::ofstream(dir_ / "config.json") << j.dump(); }
    std::string load_error() {
        auto m = load_model(dir_.string());
        EXPECT_FALSE(m.ok());
        const std::string msg = m.ok() ? "" : m.status().message();
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "error must be one line: " << msg;
        return msg;
    }
    // Rewrites model.safetensors with one tensor's header entry changed by `edit`.
    void edit_header(const std::function<void(nlohmann::json&)>& edit) {
        std::ifstream in(dir_ / "model.safetensors", std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
        nlohmann::json h = nlohmann::json::parse(bytes.substr(8, n));
        edit(h);
        std::string hs = h.dump();
        while (hs.size() < n) hs += ' ';  // keep the data offsets valid
        ASSERT_EQ(hs.size(), n);
        bytes.replace(8, n, hs);
        std::ofstream(dir_ / "model.safetensors", std::ios::binary) << bytes;
    }
    fs::path dir_;
};

TEST_F(BrokenCheckpoint, LoadsWhenIntact) { EXPECT_TRUE(load_model(dir_.string()).ok()); }

TEST_F(BrokenCheckpoint, MissingFolderOrConfig) {
    EXPECT_NE(load_model((dir_ / "nope").string()).status().message().find("not a model folder"), std::string::npos);
    fs::remove(dir_ / "config.json");
    EXPECT_NE(load_error().find("config.json: cannot open"), std::string::npos);
}

TEST_F(BrokenCheckpoint, MissingWeights) {
    fs::remove(dir_ / "model.safetensors");
    EXPECT_NE(load_error().find("no model.safetensors"), std::string::npos);
}

TEST_F(BrokenCheckpoint, BadJson) {
    std::ofstream(dir_ / "config.json") << "{\"architectures\": [\"LlamaForCausalLM\"], ";
    const std::string e = load_error();
    EXPECT_NE(e.find("config.json: invalid JSON"), std::string::npos) << e;
}

TEST_F(BrokenCheckpoint, BadConfigField) {
    auto c = config();
    c["num_key_value_heads"] = 3;
    write_config(c);
    EXPECT_NE(load_error().find("num_key_value_heads = 3 does not divide num_attention_heads = 8"), std::string::npos);
    c = config();
    c["hidden_size"] = "64";
    write_config(c);
    EXPECT_NE(load_error().find("hidden_size must be an integer"), std::string::npos);
}

TEST_F(BrokenCheckpoint, UnsupportedArchitecture) {
    auto c = config();
    c["architectures"] = {"GPT2LMHeadModel"};
    write_config(c);
    const std::string e = load_error();
    EXPECT_NE(e.find("architecture GPT2LMHeadModel is not supported"), std::string::npos) << e;
    EXPECT_NE(e.find("LlamaForCausalLM"), std::string::npos) << e;
}

TEST_F(BrokenCheckpoint, TruncatedFile) {
    fs::resize_file(dir_ / "model.safetensors", fs::file_size(dir_ / "model.safetensors") - 100);
    const std::string e = load_error();
    EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
    EXPECT_NE(e.find("truncated"), std::string::npos) << e;
    fs::resize_file(dir_ / "model.safetensors", 5);
    EXPECT_NE(load_error().find("too short"), std::string::npos);
}

TEST_F(BrokenCheckpoint, WrongShape) {
    // Config says a wider MLP than the tensors hold.
    auto c = config();
    c["intermediate_size"] = 173;
    write_config(c);
    const std::string e = load_error();
    EXPECT_NE(e.find("model.safetensors: tensor model.layers.0.mlp.gate_proj.weight has shape [172, 64], expected [173, 64]"),
              std::string::npos) << e;
}

TEST_F(BrokenCheckpoint, WrongDtypeAndMissingTensor) {
    edit_header([](nlohmann::json& h) { h["model.norm.weight"]["dtype"] = "F64"; });
    EXPECT_NE(load_error().find("tensor model.norm.weight: dtype F64 is not supported"), std::string::npos);
}

TEST_F(BrokenCheckpoint, TensorSizeDisagreesWithDtype) {
    edit_header([](nlohmann::json& h) { h["model.norm.weight"]["dtype"] = "F16"; });
    EXPECT_NE(load_error().find("model.norm.weight: holds 256 bytes, expected 128"), std::string::npos);
}

TEST_F(BrokenCheckpoint, MissingTensor) {
    edit_header([](nlohmann::json& h) {
        h["model.norm.weighx"] = h["model.norm.weight"];
        h.erase("model.norm.weight");
    });
    EXPECT_NE(load_error().find("checkpoint has no tensor model.norm.weight (expected shape [64])"), std::string::npos);
}

TEST(SafetensorsHeader, RejectsOverlapsAndOutOfRange) {
    auto make = [](const std::string& header, size_t data_bytes) {
        std::string f(8, '\0');
        uint64_t n = header.size();
        for (int i = 0; i < 8; ++i) f[i] = static_cast<char>((n >> (8 * i)) & 0xff);
        return f + header + std::string(data_bytes, '\0');
    };
    auto parse = [](const std::string& f) {
        return parse_safetensors_header(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "x.safetensors");
    };
    EXPECT_TRUE(parse(make(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8)).ok());
    EXPECT_NE(parse(make(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8))
                  .status().message().find("overlap"), std::string::npos);
    EXPECT_NE(parse(make(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)).status().message().find("outside the data section"),
              std::string::npos);
    EXPECT_NE(parse(make(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 8)).status().message().find("non-negative"),
              std::string::npos);
    EXPECT_NE(parse(make(R"([1,2])", 0)).status().message().find("not a JSON object"), std::string::npos);
    EXPECT_NE(parse(make(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 8))
                  .status().message().find("too large"), std::string::npos);
}

}  // namespace
}  // namespace kite
