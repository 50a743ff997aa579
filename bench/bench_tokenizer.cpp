// Single-threaded encode throughput of kite's tokenizer: `bench_tokenizer MODEL_DIR TEXT_FILE [REPEAT]`.
// The text file holds documents separated by a line "\x1e" (record separator); each document is
// encoded with one encode() call, as bench/tokenizer_vs_hf.py does with HF tokenizers.
// Prints one JSON line: {"bytes", "tokens", "seconds", "mb_per_s", "load_seconds"}.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_tokenizer MODEL_DIR TEXT_FILE [REPEAT]\n");
        return 2;
    }
    const int repeat = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    auto tok = kite::load_tokenizer_any(argv[1]);
    if (!tok.ok()) {
        std::fprintf(stderr, "bench_tokenizer: %s\n", tok.status().message().c_str());
        return 1;
    }
    const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
    std::ifstream f(argv[2], std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string all = ss.str();
    std::vector<std::string> docs;
    for (size_t pos = 0; pos < all.size();) {
        size_t e = all.find("\n\x1e\n", pos);
        if (e == std::string::npos) e = all.size();
        docs.push_back(all.substr(pos, e - pos));
        pos = e + 3;
    }
    size_t bytes = 0, tokens = 0;
    double best = 1e30;
    for (int r = 0; r < repeat; ++r) {  // the best of `repeat` runs; run 1 also warms the word cache
        size_t n = 0;
        const auto a = clock::now();
        for (const std::string& d : docs) {
            auto ids = (*tok)->encode(d, false);
            if (!ids.ok()) {
                std::fprintf(stderr, "bench_tokenizer: %s\n", ids.status().message().c_str());
                return 1;
            }
            n += ids->size();
        }
        best = std::min(best, std::chrono::duration<double>(clock::now() - a).count());
        tokens = n;
    }
    for (const std::string& d : docs) bytes += d.size();
    std::printf("{\"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.4f, \"mb_per_s\": %.2f, \"load_seconds\": %.3f}\n", bytes,
                tokens, best, bytes / best / 1e6, load_s);
    return 0;
}
