// quant_matmul benchmark on the default model's shapes (SmolLM2-135M: gate|up 3072x576, down
// 576x1536 in Q4_1; the tied lm_head 49152x576 in Q8_0): the exact f32-activation path, the int8
// activation path, and the f32 GEMM on the dequantized weights, for 1 row (decode) and 512 rows
// (prefill). Checks the exact path equals the f32 GEMM bit for bit, then prints best-of-N times,
// weight GB/s (decode) and GFLOP/s (prefill).
//   bench_quant_matmul [--threads N] [--reps N]
#include <cstdint>

#include "bench_util.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "ops/cpu/kernels.h"
#include "ops/quant.h"

using namespace kite;
using namespace kite::bench;

namespace {

std::vector<uint8_t> random_blocks(DType t, int64_t n, uint32_t seed) {
    const int64_t nb = n / dtype_block_elems(t), bs = dtype_block_bytes(t);
    std::vector<uint8_t> w(nb * bs);
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : w) b = static_cast<uint8_t>(byte(gen));
    const uint16_t d = f32_to_f16(0.01f), m = f32_to_f16(-0.05f);
    for (int64_t i = 0; i < nb; ++i) {  // finite scales; the rest arbitrary
        std::memcpy(w.data() + i * bs, &d, 2);
        if (t == DType::kQ4_1) std::memcpy(w.data() + i * bs + 2, &m, 2);
    }
    return w;
}

}  // namespace

int main(int argc, char** argv) {
    set_num_threads(int_flag(argc, argv, "--threads", 1));
    const int reps = int_flag(argc, argv, "--reps", 20);
    struct Shape {
        const char* name;
        DType t;
        int64_t N, K;
    };
    const Shape shapes[] = {{"gate_up q4_1", DType::kQ4_1, 3072, 576},
                            {"down q4_1", DType::kQ4_1, 576, 1536},
                            {"lm_head q8_0", DType::kQ8_0, 49152, 576}};
    std::printf("threads %d, best of %d\n", num_threads(), reps);
    for (const Shape& s : shapes) {
        auto wb = random_blocks(s.t, s.N * s.K, 1);
        std::vector<float> wf(s.N * s.K);
        if (!ops::dequantize(s.t, wb.data(), wf.data(), s.N * s.K).is_ok()) return 1;
        Tensor w = Tensor::view(wb.data(), s.t, {s.N, s.K}, nullptr);
        for (int64_t T : {1, 512}) {
            auto x = random_vec(T * s.K, 2);
            std::vector<float> a(T * s.N), b(T * s.N), c(T * s.N);
            const int r = T == 1 ? reps : std::max(2, reps / 10);
            const double te = best_time(r, [&] { ops::quant_matmul(x.data(), T, s.K, w, a.data()); });
            const double tf = best_time(r, [&] { ops::cpu::gemm_nt_f32(x.data(), T, s.K, wf.data(), s.N, nullptr, b.data()); });
            const double ti = best_time(r, [&] { ops::int8_matmul(x.data(), T, s.K, w, c.data()); });
            const bool same = std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
            const double gb = static_cast<double>(wb.size()) / 1e9, gf = 2.0 * T * s.N * s.K / 1e9;
            if (T == 1) {
                std::printf("%-13s T=%-3lld exact %7.1f us (%5.1f GB/s)  int8[%s] %7.1f us (%5.1f GB/s)  f32 %7.1f us  %s\n",
                            s.name, static_cast<long long>(T), te * 1e6, gb / te, ops::int8_matmul_isa(), ti * 1e6,
                            gb / ti, tf * 1e6, same ? "bit-identical" : "MISMATCH");
            } else {
                std::printf("%-13s T=%-3lld exact %7.2f ms (%5.1f GFLOP/s)  int8 %7.2f ms (%5.1f)  f32 %7.2f ms (%5.1f)  %s\n",
                            s.name, static_cast<long long>(T), te * 1e3, gf / te, ti * 1e3, gf / ti, tf * 1e3, gf / tf,
                            same ? "bit-identical" : "MISMATCH");
            }
        }
    }
    return 0;
}
