// Round trip against the reference: tools/gguf/make_quant_cases.py writes quantized tensors and
// what the `gguf` PyPI package's gguf.quants.dequantize makes of them (random data, random blocks,
// the default model's own tensors when present, and K-quant tensors llama.cpp's quantizer makes
// from it when llama-cpp-python is installed); kite's ops::dequantize must match bit for bit.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "ops/quant.h"

namespace kite {
namespace {

std::string model_path() { return std::string(KITE_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"; }

TEST(GgufDequant, BitExactWithGgufPackage) {
    if (std::system("python3 -c 'import gguf, numpy' >/dev/null 2>&1") != 0) {
        GTEST_SKIP() << "python3 with the gguf package is needed (scripts/setup.sh)";
    }
    const std::string out = ::testing::TempDir() + "/kite_quant_cases.gguf";
    std::string cmd = "python3 " + std::string(KITE_SOURCE_DIR) + "/tools/gguf/make_quant_cases.py " + out;
    const bool with_model = std::ifstream(model_path()).good();
    if (with_model) cmd += " --model " + model_path();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto f = GgufFile::open(out);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    std::set<std::string> types_checked, real_types;
    int cases = 0;
    for (const auto& ti : f->tensors()) {
        if (ti.name.rfind("q.", 0) != 0) continue;
        const std::string ref_name = "ref." + ti.name.substr(2);
        auto q = f->tensor(ti.name);
        auto ref = f->tensor(ref_name);
        ASSERT_TRUE(q.ok()) << q.status().to_string();
        ASSERT_TRUE(ref.ok()) << ref_name;
        ASSERT_EQ(q->shape(), ref->shape()) << ti.name;
        std::vector<float> got(q->numel());
        ASSERT_TRUE(ops::dequantize(q->dtype(), q->raw(), got.data(), q->numel()).is_ok());
        int64_t mismatches = 0, first = -1;
        for (int64_t i = 0; i < q->numel(); ++i) {
            if (std::memcmp(&got[i], ref->data<float>() + i, 4) != 0) {
                if (first < 0) first = i;
                ++mismatches;
            }
        }
        EXPECT_EQ(mismatches, 0) << ti.name << ": first mismatch at " << first << ": kite " << got[first]
                                 << " vs gguf " << ref->data<float>()[first];
        types_checked.insert(dtype_name(q->dtype()));
        if (ti.name.rfind("q.model.", 0) == 0 || ti.name.rfind("q.llamacpp.", 0) == 0) {
            real_types.insert(dtype_name(q->dtype()));
        }
        ++cases;
    }
    EXPECT_EQ(types_checked.size(), 10u);  // f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k
    EXPECT_GE(cases, with_model ? 17 : 15);
    std::string real;
    for (const auto& t : real_types) real += " " + t;
    std::printf("dequantize bit-exact on %d tensors; types from real model files:%s\n", cases, real.c_str());
}

}  // namespace
}  // namespace kite
