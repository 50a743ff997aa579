// Helpers for the GGUF tokenizer tests: llama.cpp's vocab GGUFs gunzipped once per test binary,
// .inp/.out and vectors.shared.json readers, and a tiny GGUF writer for hand-made metadata.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/gguf.h"

namespace kite::testing {

inline const std::string kGgufTokDir = std::string(KITE_SHARED_DIR) + "/tokenizers/";
inline const std::string kLlamaCppDir = kGgufTokDir + "llamacpp-vectors/";

inline std::string slurp_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The GGUF of llama.cpp's vocab `name` (e.g. "llama-spm"), gunzipped into a temp folder that lives
// as long as the test binary; "" (and a test failure) if it cannot be made.
inline std::string vocab_gguf(const std::string& name) {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("kite_gguf_tok_" + std::to_string(getpid()));
        std::filesystem::create_directories(d);
        static struct Cleanup {
            std::filesystem::path p;
            ~Cleanup() {
                std::error_code ec;
                std::filesystem::remove_all(p, ec);
            }
        } cleanup{d};
        return d;
    }();
    const std::string gz = kLlamaCppDir + "ggml-vocab-" + name + ".gguf.gz";
    const std::filesystem::path out = dir / ("ggml-vocab-" + name + ".gguf");
    if (std::filesystem::exists(out)) return out.string();
    const std::string tmp = out.string() + ".part";
    const std::string cmd = "gzip -dc '" + gz + "' > '" + tmp + "'";
    if (std::system(cmd.c_str()) != 0) {
        ADD_FAILURE() << "cannot gunzip " << gz;
        return "";
    }
    std::filesystem::rename(tmp, out);
    return out.string();
}

// llama.cpp's .inp strings and .out ids of vocab `name`.
struct LlamaCppCases {
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> ids;
};

inline LlamaCppCases llamacpp_cases(const std::string& name) {
    LlamaCppCases c;
    const std::string base = kLlamaCppDir + "ggml-vocab-" + name + ".gguf";
    const std::string inp = slurp_file(base + ".inp"), out = slurp_file(base + ".out");
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (size_t pos = 0;;) {
        const size_t e = inp.find(sep, pos);
        if (e == std::string::npos) break;
        c.texts.push_back(inp.substr(pos, e - pos));
        pos = e + sep.size();
    }
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream ls(line);
        std::vector<int32_t> ids;
        for (int32_t x; ls >> x;) ids.push_back(x);
        c.ids.push_back(ids);
    }
    return c;
}

inline nlohmann::json read_json_file(const std::string& path) {
    return nlohmann::json::parse(slurp_file(path), nullptr, /*allow_exceptions=*/false);
}

// Writes GGUF v3 metadata (no tensors) into memory, for hand-made tokenizer keys. Writing a key
// again replaces its value.
class GgufWriter {
public:
    void str(const std::string& key, const std::string& v) { begin(key, 8), string(v); }
    void u32(const std::string& key, uint32_t v) { begin(key, 4), pod(v); }
    void i32(const std::string& key, int32_t v) { begin(key, 5), pod(v); }
    void boolean(const std::string& key, bool v) { begin(key, 7), pod(uint8_t(v)); }
    void strs(const std::string& key, const std::vector<std::string>& v) {
        begin(key, 9), pod(uint32_t(8)), pod(uint64_t(v.size()));
        for (const auto& s : v) string(s);
    }
    void f32s(const std::string& key, const std::vector<float>& v) {
        begin(key, 9), pod(uint32_t(6)), pod(uint64_t(v.size()));
        for (float f : v) pod(f);
    }
    void u8s(const std::string& key, const std::string& bytes) {
        begin(key, 9), pod(uint32_t(0)), pod(uint64_t(bytes.size()));
        cur_->append(bytes);
    }
    void i32s(const std::string& key, const std::vector<int32_t>& v) {
        begin(key, 9), pod(uint32_t(5)), pod(uint64_t(v.size()));
        for (int32_t x : v) pod(x);
    }
    Result<GgufFile> parse() const {
        auto buf = std::make_shared<std::string>("GGUF");
        auto put = [&](const void* p, size_t n) { buf->append(static_cast<const char*>(p), n); };
        uint32_t version = 3;
        uint64_t n_tensors = 0, n_kv = entries_.size();
        put(&version, 4), put(&n_tensors, 8), put(&n_kv, 8);
        for (const auto& [key, entry] : entries_) buf->append(entry);
        while (buf->size() % 32) buf->push_back('\0');
        return GgufFile::parse(reinterpret_cast<const uint8_t*>(buf->data()), buf->size(), buf, "test.gguf");
    }

private:
    template <typename T>
    void pod(T v) { cur_->append(reinterpret_cast<const char*>(&v), sizeof v); }
    void string(const std::string& s) { pod(uint64_t(s.size())), cur_->append(s); }
    void begin(const std::string& key, uint32_t type) {
        cur_ = &entries_[key];
        cur_->clear();
        string(key), pod(type);
    }
    std::map<std::string, std::string> entries_;  // key -> its serialized key, type and value
    std::string* cur_ = nullptr;
};

}  // namespace kite::testing
