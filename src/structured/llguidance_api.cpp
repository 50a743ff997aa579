// dlopen of llguidance's shared library (see llguidance_api.h for why at run time).
#include "structured/llguidance_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace kite::structured {

namespace {

#ifndef KITE_LLGUIDANCE_DEFAULT_LIB
#define KITE_LLGUIDANCE_DEFAULT_LIB ""
#endif
#ifndef KITE_LIBPYTHON_DEFAULT
#define KITE_LIBPYTHON_DEFAULT ""
#endif

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

template <typename F>
bool resolve(void* h, const char* name, F& fn, std::string& missing) {
    fn = reinterpret_cast<F>(dlsym(h, name));
    if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
    return fn != nullptr;
}

Result<const LlgApi*> load() {
    const std::string lib = env_or("KITE_LLGUIDANCE_LIB", KITE_LLGUIDANCE_DEFAULT_LIB);
    if (lib.empty())
        return unimplemented("structured output needs llguidance: `pip install llguidance` and reconfigure kite, "
                             "or set KITE_LLGUIDANCE_LIB to its _lib.abi3.so");
    // The extension module refers to CPython's symbols; make them resolvable first.
    std::vector<std::string> pythons;
    for (std::string p : {env_or("KITE_LIBPYTHON", ""), std::string(KITE_LIBPYTHON_DEFAULT), std::string("libpython3.so")})
        if (!p.empty()) pythons.push_back(p);
    bool have_python = false;
    for (const std::string& p : pythons)
        if (dlopen(p.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
            have_python = true;
            break;
        }
    void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* why = dlerror();
        return unimplemented(std::string("structured output needs llguidance, which could not be loaded from ") + lib +
                             ": " + (why ? why : "unknown error") +
                             (have_python ? "" : " (no libpython found: set KITE_LIBPYTHON)"));
    }
    static LlgApi api;
    std::string missing;
    resolve(h, "llg_get_version", api.get_version, missing);
    resolve(h, "llg_new_tokenizer_v2", api.new_tokenizer_v2, missing);
    resolve(h, "llg_free_tokenizer", api.free_tokenizer, missing);
    resolve(h, "llg_constraint_init_set_defaults", api.constraint_init_set_defaults, missing);
    resolve(h, "llg_new_matcher", api.new_matcher, missing);
    resolve(h, "llg_clone_matcher", api.clone_matcher, missing);
    resolve(h, "llg_free_matcher", api.free_matcher, missing);
    resolve(h, "llg_matcher_get_error", api.matcher_get_error, missing);
    resolve(h, "llg_matcher_compute_mask_into", api.matcher_compute_mask_into, missing);
    resolve(h, "llg_matcher_get_mask_byte_size", api.matcher_get_mask_byte_size, missing);
    resolve(h, "llg_matcher_consume_token", api.matcher_consume_token, missing);
    resolve(h, "llg_matcher_is_stopped", api.matcher_is_stopped, missing);
    resolve(h, "llg_matcher_is_accepting", api.matcher_is_accepting, missing);
    if (!missing.empty())
        return unimplemented("the llguidance library at " + lib + " lacks " + missing + " (llguidance >= 1.0 is needed)");
    return static_cast<const LlgApi*>(&api);
}

}  // namespace

Result<const LlgApi*> llguidance() {
    static std::once_flag once;
    static Result<const LlgApi*> result = unimplemented("not loaded");
    std::call_once(once, [] { result = load(); });
    return result;
}

}  // namespace kite::structured
