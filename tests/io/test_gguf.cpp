// GGUF reader: files built byte by byte here (every value type, nested arrays, alignment), every
// kind of corruption giving a one-line error, and the default model's header when it is present.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace kite {
namespace {

// Writes GGUF bytes field by field, little-endian, exactly as the format describes them.
struct Writer {
    std::vector<uint8_t> b;
    template <typename T> void put(T v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + sizeof(T));
    }
    void str(const std::string& s) {
        put<uint64_t>(s.size());
        b.insert(b.end(), s.begin(), s.end());
    }
    void header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        put<uint32_t>(0x46554747);
        put<uint32_t>(version);
        put<uint64_t>(n_tensors);
        put<uint64_t>(n_kv);
    }
    void key(const std::string& k, GgufType t) {
        str(k);
        put<uint32_t>(static_cast<uint32_t>(t));
    }
    void tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name);
        put<uint32_t>(static_cast<uint32_t>(ne.size()));
        for (uint64_t d : ne) put<uint64_t>(d);
        put<uint32_t>(type);
        put<uint64_t>(offset);
    }
    void pad(size_t align) {
        while (b.size() % align) b.push_back(0);
    }
};

Result<GgufFile> parse(const std::vector<uint8_t>& b) { return GgufFile::parse(b.data(), b.size(), nullptr, "t.gguf"); }

// A valid file: all scalar types, arrays of ints/floats/strings/nested arrays, two tensors.
std::vector<uint8_t> good_file(uint32_t alignment = 32) {
    Writer w;
    w.header(2, 17);
    w.key("general.architecture", GgufType::kString); w.str("llama");
    w.key("general.alignment", GgufType::kU32); w.put<uint32_t>(alignment);
    w.key("u8", GgufType::kU8); w.put<uint8_t>(200);
    w.key("i8", GgufType::kI8); w.put<int8_t>(-100);
    w.key("u16", GgufType::kU16); w.put<uint16_t>(60000);
    w.key("i16", GgufType::kI16); w.put<int16_t>(-30000);
    w.key("u32", GgufType::kU32); w.put<uint32_t>(4000000000u);
    w.key("i32", GgufType::kI32); w.put<int32_t>(-2000000000);
    w.key("u64", GgufType::kU64); w.put<uint64_t>(1ull << 40);
    w.key("i64", GgufType::kI64); w.put<int64_t>(-(1ll << 40));
    w.key("f32", GgufType::kF32); w.put<float>(0.5f);
    w.key("f64", GgufType::kF64); w.put<double>(-2.25);
    w.key("bool", GgufType::kBool); w.put<uint8_t>(1);
    w.key("ints", GgufType::kArray); w.put<uint32_t>(5); w.put<uint64_t>(3);
    w.put<int32_t>(1); w.put<int32_t>(-2); w.put<int32_t>(3);
    w.key("floats", GgufType::kArray); w.put<uint32_t>(6); w.put<uint64_t>(2); w.put<float>(1.5f); w.put<float>(-1e-5f);
    w.key("strings", GgufType::kArray); w.put<uint32_t>(8); w.put<uint64_t>(2); w.str("a"); w.str("\xc4\xa0hello");
    // [[1, 2], []] as arrays of u8
    w.key("nested", GgufType::kArray); w.put<uint32_t>(9); w.put<uint64_t>(2);
    w.put<uint32_t>(0); w.put<uint64_t>(2); w.put<uint8_t>(1); w.put<uint8_t>(2);
    w.put<uint32_t>(0); w.put<uint64_t>(0);
    // a: f32 [2, 3] (ne = {3, 2}); q: q8_0 [1, 32] one block of 34 bytes at the next aligned offset.
    w.tensor("a", {3, 2}, 0, 0);
    const uint64_t q_offset = (24 + alignment - 1) / alignment * alignment;  // after a's 24 bytes
    w.tensor("q", {32, 1}, 8, q_offset);
    w.pad(alignment);
    for (int i = 0; i < 6; ++i) w.put<float>(static_cast<float>(i));
    w.pad(alignment);
    for (int i = 0; i < 34; ++i) w.put<uint8_t>(static_cast<uint8_t>(i));
    return w.b;
}

TEST(Gguf, ParsesEveryValueType) {
    auto f = parse(good_file());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(*f->get_string("general.architecture"), "llama");
    EXPECT_EQ(*f->get_int("u8"), 200);
    EXPECT_EQ(*f->get_int("i8"), -100);
    EXPECT_EQ(*f->get_int("u16"), 60000);
    EXPECT_EQ(*f->get_int("i16"), -30000);
    EXPECT_EQ(*f->get_int("u32"), 4000000000ll);
    EXPECT_EQ(*f->get_int("i32"), -2000000000);
    EXPECT_EQ(*f->get_int("u64"), 1ll << 40);
    EXPECT_EQ(*f->get_int("i64"), -(1ll << 40));
    EXPECT_EQ(*f->get_float("f32"), 0.5);
    EXPECT_EQ(*f->get_float("f64"), -2.25);
    EXPECT_EQ(*f->get_float("u32"), 4e9);
    EXPECT_TRUE(*f->get_bool("bool"));
    EXPECT_EQ(**f->get_ints("ints"), (std::vector<int64_t>{1, -2, 3}));
    EXPECT_EQ((**f->get_floats("floats"))[1], static_cast<double>(-1e-5f));
    EXPECT_EQ((**f->get_strings("strings"))[1], "\xc4\xa0hello");
    const GgufValue* n = f->find("nested");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->array_size(), 2u);
    EXPECT_EQ(n->arrays[0].ints, (std::vector<int64_t>{1, 2}));
    const auto& j = f->metadata_json();
    EXPECT_EQ(j["nested"], nlohmann::json::parse("[[1,2],[]]"));
    EXPECT_EQ(j["strings"][0], "a");
    EXPECT_EQ(j["bool"], true);
    EXPECT_EQ(j["ints"], nlohmann::json::parse("[1,-2,3]"));
}

TEST(Gguf, TypedGettersNameTheKey) {
    auto f = parse(good_file());
    ASSERT_TRUE(f.ok());
    auto s = f->get_int("general.architecture");
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("general.architecture"), std::string::npos);
    EXPECT_EQ(f->get_string("missing.key").status().code(), StatusCode::kNotFound);
    EXPECT_FALSE(f->get_strings("ints").ok());
    EXPECT_FALSE(f->get_bool("u8").ok());
}

TEST(Gguf, TensorsAndAlignment) {
    for (uint32_t align : {32u, 64u, 8u}) {
        // Tensor data points into the bytes (null owner), so they must outlive `f`.
        const auto bytes = good_file(align);
        auto f = parse(bytes);
        ASSERT_TRUE(f.ok()) << f.status().to_string();
        EXPECT_EQ(f->alignment(), align);
        EXPECT_EQ(f->data_offset() % align, 0u);
        ASSERT_EQ(f->tensors().size(), 2u);
        auto a = f->tensor("a");
        ASSERT_TRUE(a.ok());
        EXPECT_EQ(a->shape(), (std::vector<int64_t>{2, 3}));
        EXPECT_EQ(a->dtype(), DType::kF32);
        EXPECT_EQ(a->data<float>()[5], 5.0f);
        auto q = f->tensor("q");
        ASSERT_TRUE(q.ok());
        EXPECT_EQ(q->dtype(), DType::kQ8_0);
        EXPECT_EQ(f->find_tensor("q")->nbytes, 34u);
        EXPECT_EQ(q->data<uint8_t>()[33], 33);
        EXPECT_EQ(f->tensor("nope").status().code(), StatusCode::kNotFound);
    }
}

// Every prefix of a valid file must fail cleanly (no crash, a one-line message naming the file).
TEST(Gguf, EveryTruncationFails) {
    const auto full = good_file();
    for (size_t n = 0; n + 1 < full.size(); ++n) {
        std::vector<uint8_t> cut(full.begin(), full.begin() + n);
        auto f = parse(cut);
        ASSERT_FALSE(f.ok()) << "prefix " << n;
        EXPECT_EQ(f.status().message().find('\n'), std::string::npos);
        EXPECT_EQ(f.status().message().rfind("t.gguf: ", 0), 0u) << f.status().message();
    }
}

void expect_error(const std::vector<uint8_t>& b, const std::string& fragment) {
    auto f = parse(b);
    ASSERT_FALSE(f.ok()) << "expected an error containing '" << fragment << "'";
    EXPECT_NE(f.status().message().find(fragment), std::string::npos) << f.status().message();
}

TEST(Gguf, Corruptions) {
    auto b = good_file();
    b[0] = 'X';
    expect_error(b, "not a GGUF file");

    Writer v1; v1.header(0, 0, 1);
    expect_error(v1.b, "version 1");
    Writer v9; v9.header(0, 0, 9);
    expect_error(v9.b, "unsupported GGUF version 9");
    Writer be; be.header(0, 0, 0x03000000);
    expect_error(be.b, "big-endian");

    Writer huge_kv; huge_kv.header(0, 1ull << 60);
    expect_error(huge_kv.b, "metadata count");
    Writer huge_t; huge_t.header(1ull << 60, 0);
    expect_error(huge_t.b, "tensor count");

    Writer strlen; strlen.header(0, 1); strlen.key("k", GgufType::kString); strlen.put<uint64_t>(1ull << 62);
    expect_error(strlen.b, "key 'k': string length");

    Writer badtype; badtype.header(0, 1); badtype.key("weird", static_cast<GgufType>(13)); badtype.put<uint8_t>(0);
    expect_error(badtype.b, "key 'weird': unknown value type 13");

    Writer bigarr; bigarr.header(0, 1); bigarr.key("arr", GgufType::kArray);
    bigarr.put<uint32_t>(4); bigarr.put<uint64_t>(1ull << 61);
    expect_error(bigarr.b, "key 'arr': array of");

    Writer deep; deep.header(0, 1); deep.key("deep", GgufType::kArray);
    for (int i = 0; i < 20; ++i) { deep.put<uint32_t>(9); deep.put<uint64_t>(1); }
    deep.put<uint32_t>(0); deep.put<uint64_t>(0);
    expect_error(deep.b, "nested deeper");

    Writer dup; dup.header(0, 2);
    dup.key("k", GgufType::kU8); dup.put<uint8_t>(1);
    dup.key("k", GgufType::kU8); dup.put<uint8_t>(1);
    expect_error(dup.b, "duplicate metadata key 'k'");

    Writer align; align.header(0, 1); align.key("general.alignment", GgufType::kU32); align.put<uint32_t>(48);
    expect_error(align.b, "general.alignment is 48");

    auto tensor_file = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data_bytes) {
        Writer w;
        w.header(1, 0);
        w.tensor("blk.0.attn_q.weight", std::move(ne), type, offset);
        w.pad(32);
        w.b.resize(w.b.size() + data_bytes);
        return w.b;
    };
    expect_error(tensor_file({4, 4}, 0, 0, 32), "tensor 'blk.0.attn_q.weight': data");  // needs 64 bytes
    expect_error(tensor_file({4}, 0, 1ull << 63, 64), "past the end");
    expect_error(tensor_file({4}, 0, 16, 64), "not a multiple of the alignment");
    expect_error(tensor_file({4}, 4, 0, 64), "unknown ggml type 4");
    expect_error(tensor_file({4}, 99, 0, 64), "unknown ggml type 99");
    expect_error(tensor_file({1ull << 32, 1ull << 32}, 0, 0, 64), "overflows");
    expect_error(tensor_file({0, 1ull << 40, 1ull << 40}, 0, 0, 64), "overflows");  // empty, yet overflowing
    expect_error(tensor_file({1ull << 63}, 0, 0, 64), "too large");
    expect_error(tensor_file({16}, 2, 0, 64), "not a multiple of the q4_0 block size 32");
    expect_error(tensor_file({2, 2, 2, 2, 2}, 0, 0, 64), "n_dims 5");
    expect_error(tensor_file({}, 0, 0, 64), "n_dims 0");

    Writer dupt; dupt.header(2, 0);
    dupt.tensor("x", {1}, 0, 0);
    dupt.tensor("x", {1}, 0, 32);
    dupt.pad(32); dupt.b.resize(dupt.b.size() + 64);
    expect_error(dupt.b, "duplicate tensor name 'x'");
}

TEST(Gguf, UnsupportedTensorTypeParsesButDoesNotLoad) {
    Writer w;
    w.header(1, 0);
    w.tensor("q2", {256}, 10, 0);  // q2_K: a real ggml type kite does not compute on
    w.pad(32);
    w.b.resize(w.b.size() + 84);
    auto f = parse(w.b);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    auto t = f->tensor("q2");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(t.status().message().find("q2_K"), std::string::npos);
}

TEST(Gguf, OpenReportsMissingAndEmptyFiles) {
    auto missing = GgufFile::open("/nonexistent/x.gguf");
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    const std::string empty = ::testing::TempDir() + "/empty.gguf";
    std::ofstream(empty).close();
    auto e = GgufFile::open(empty);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("empty.gguf"), std::string::npos);
}

// The default model, if scripts/fetch_default_model.sh has been run. Values from its model card /
// `gguf.GGUFReader` (SmolLM2-135M: 30 layers, 576 wide, 9 heads, 3 KV heads, vocab 49152).
TEST(Gguf, DefaultModelHeader) {
    const std::string path = std::string(KITE_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (!std::ifstream(path).good()) GTEST_SKIP() << "run scripts/fetch_default_model.sh";
    auto f = GgufFile::open(path);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(*f->get_string("general.architecture"), "llama");
    EXPECT_EQ(*f->get_int("llama.block_count"), 30);
    EXPECT_EQ(*f->get_int("llama.embedding_length"), 576);
    EXPECT_EQ(*f->get_int("llama.attention.head_count_kv"), 3);
    EXPECT_EQ((*f->get_strings("tokenizer.ggml.tokens"))->size(), 49152u);
    EXPECT_EQ((*f->get_strings("tokenizer.ggml.merges"))->size(), 48900u);
    EXPECT_EQ(f->tensors().size(), 272u);
    const GgufTensorInfo* emb = f->find_tensor("token_embd.weight");
    ASSERT_NE(emb, nullptr);
    EXPECT_EQ(emb->shape, (std::vector<int64_t>{49152, 576}));
    EXPECT_EQ(emb->ggml_type, 8u);
    EXPECT_EQ(f->metadata_json()["tokenizer.ggml.tokens"].size(), 49152u);
}

}  // namespace
}  // namespace kite
