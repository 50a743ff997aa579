// The only code that knows every architecture. A plain table, not self-registering globals: the
// linker drops unreferenced objects from a static library, and such a registration would vanish.
// Adding an architecture: write model/arch/<family>.cpp defining `const ArchDef k<Family>Arch`,
// then add one KITE_ARCH line below (docs/ARCHITECTURE.md shows one).
#include "model/registry.h"

namespace kite {

#define KITE_ARCHITECTURES(KITE_ARCH) \
    KITE_ARCH(kLlamaArch)             \
    KITE_ARCH(kMistralArch)           \
    KITE_ARCH(kQwen2Arch)             \
    KITE_ARCH(kQwen3Arch)             \
    KITE_ARCH(kPhi3Arch)              \
    KITE_ARCH(kPhiArch)               \
    KITE_ARCH(kGemma2Arch)            \
    KITE_ARCH(kGemma3Arch)            \
    KITE_ARCH(kGlm4Arch)              \
    KITE_ARCH(kStarcoder2Arch)        \
    KITE_ARCH(kGptNeoXArch)           \
    KITE_ARCH(kFalconArch)            \
    KITE_ARCH(kGptBigCodeArch)        \
    KITE_ARCH(kBloomArch)             \
    KITE_ARCH(kMixtralArch)           \
    KITE_ARCH(kQwen2MoeArch)          \
    KITE_ARCH(kQwen3MoeArch)          \
    KITE_ARCH(kDeepseekV2Arch)        \
    KITE_ARCH(kDeepseekV3Arch)        \
    /* one line per architecture, above */

#define KITE_DECLARE_ARCH(name) extern const ArchDef name;
KITE_ARCHITECTURES(KITE_DECLARE_ARCH)

namespace {
#define KITE_LIST_ARCH(name) &name,
const ArchDef* const kArchitectures[] = {KITE_ARCHITECTURES(KITE_LIST_ARCH)};
}  // namespace

const ArchDef* find_architecture(const std::string& hf_name) {
    for (const ArchDef* e : kArchitectures) {
        if (hf_name == e->hf_name) return e;
    }
    return nullptr;
}

const ArchDef* find_gguf_architecture(const std::string& gguf_name) {
    for (const ArchDef* e : kArchitectures) {
        if (e->gguf != nullptr && gguf_name == e->gguf->name) return e;
    }
    return nullptr;
}

std::string supported_architectures() {
    std::string s;
    for (const ArchDef* e : kArchitectures) s += (s.empty() ? "" : ", ") + std::string(e->hf_name);
    return s;
}

std::string supported_gguf_architectures() {
    std::string s;
    for (const ArchDef* e : kArchitectures) {
        if (e->gguf != nullptr) s += (s.empty() ? "" : ", ") + std::string(e->gguf->name);
    }
    return s;
}

}  // namespace kite
