// The only code that knows every architecture. A plain table, not self-registering globals: the
// linker drops unreferenced objects from a static library, and such a registration would vanish.
#include "model/registry.h"

namespace kite {

namespace {
constexpr ArchEntry kArchitectures[] = {
    {"LlamaForCausalLM", nullptr, &make_llama},
    {"MistralForCausalLM", nullptr, &make_llama},
    {"Qwen2ForCausalLM", &adjust_qwen2, &make_llama},
    {"Qwen3ForCausalLM", &adjust_qwen3, &make_llama},
};
}  // namespace

const ArchEntry* find_architecture(const std::string& hf_name) {
    for (const ArchEntry& e : kArchitectures) {
        if (hf_name == e.hf_name) return &e;
    }
    return nullptr;
}

std::string supported_architectures() {
    std::string s;
    for (const ArchEntry& e : kArchitectures) s += (s.empty() ? "" : ", ") + std::string(e.hf_name);
    return s;
}

}  // namespace kite
