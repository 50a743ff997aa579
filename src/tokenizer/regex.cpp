// PCRE2 wrapper: translation of the Oniguruma spellings PCRE2 lacks or reads differently, JIT
// matching with a per-thread match block and JIT stack so that const Regex objects are shared by
// threads.
#include "tokenizer/regex.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>

#include <utf8proc.h>

#include "tokenizer/unicode.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace kite::tok {

namespace {

// Oniguruma spellings PCRE2 lacks or reads differently: \uXXXX becomes \x{XXXX}; \s becomes the
// Unicode White_Space set Oniguruma uses (PCRE2's \s also takes U+180E).
constexpr const char* kWhiteSpace =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

// Code points that utf8proc's Unicode tables assign but PCRE2's older ones leave unassigned
// (PCRE2 10.42 has Unicode 14; Oniguruma, which HF uses, is newer). Found once by asking PCRE2.
const std::vector<uint32_t>& pcre2_unknown_code_points() {
    static const std::vector<uint32_t> cps = [] {
        std::vector<uint32_t> out;
        int err = 0;
        PCRE2_SIZE off = 0;
        const char* pat = "^\\p{Cn}$";
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat), PCRE2_ZERO_TERMINATED,
                                         PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
        if (!code) return out;
        pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
        std::string buf;
        for (uint32_t cp = 0x80; cp <= 0x10FFFF; ++cp) {
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            const auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
            if (c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CO) continue;
            buf.clear();
            append_utf8(buf, cp);
            if (pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(buf.data()), buf.size(), 0, 0, md, nullptr) >= 0)
                out.push_back(cp);
        }
        pcre2_match_data_free(md);
        pcre2_code_free(code);
        return out;
    }();
    return cps;
}

// Class items (no brackets) for the code points PCRE2 does not know that utf8proc puts in the
// general category `prop` ("L", "Lu", "N", "P", "S", ...); empty when none or `prop` is not a
// general category.
std::string newer_members(const std::string& prop) {
    static std::mutex mu;
    static std::map<std::string, std::string> cache;
    std::lock_guard lock(mu);
    auto it = cache.find(prop);
    if (it != cache.end()) return it->second;
    static const char* const kNames[] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
                                         "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
                                         "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};  // utf8proc's order
    std::string items;
    if (!prop.empty() && prop.size() <= 2 && std::isupper(static_cast<unsigned char>(prop[0]))) {
        uint32_t first = 0, last = 0;
        bool open = false;
        auto flush = [&] {
            if (!open) return;
            char b[48];
            std::snprintf(b, sizeof(b), first == last ? "\\x{%X}" : "\\x{%X}-\\x{%X}", first, last);
            items += b;
            open = false;
        };
        for (uint32_t cp : pcre2_unknown_code_points()) {
            const std::string name = kNames[utf8proc_category(static_cast<utf8proc_int32_t>(cp))];
            if (name.compare(0, prop.size(), prop) != 0) continue;
            if (open && cp == last + 1) { last = cp; continue; }
            flush();
            first = last = cp;
            open = true;
        }
        flush();
    }
    cache[prop] = items;
    return items;
}

// \p{X} / \pX / \P{X} at p[i] (p[i] == '\\'): the property name and the escape's length, or 0.
size_t property_escape(const std::string& p, size_t i, std::string& name, bool& negated) {
    if (i + 2 >= p.size() || (p[i + 1] != 'p' && p[i + 1] != 'P')) return 0;
    negated = p[i + 1] == 'P';
    if (p[i + 2] != '{') {
        name = p.substr(i + 2, 1);
        return 3;
    }
    const size_t e = p.find('}', i + 3);
    if (e == std::string::npos) return 0;
    name = p.substr(i + 3, e - i - 3);
    return e - i + 1;
}

std::string translate(const std::string& p) {
    std::string out;
    out.reserve(p.size() + 16);
    bool in_class = false;
    size_t class_start = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            const char n = p[i + 1];
            if (n == 'u' && i + 6 <= p.size()) {
                bool hex = true;
                for (size_t k = i + 2; k < i + 6; ++k) hex = hex && std::isxdigit(static_cast<unsigned char>(p[k]));
                if (hex) {
                    out += "\\x{" + p.substr(i + 2, 4) + "}";
                    i += 5;
                    continue;
                }
            }
            std::string prop;
            bool negated = false;
            if (const size_t len = property_escape(p, i, prop, negated)) {
                // A general category gains the members of Unicode versions newer than PCRE2's.
                const std::string extra = newer_members(prop);
                const std::string esc = p.substr(i, len);
                if (extra.empty() || (negated && in_class)) out += esc;
                else if (in_class) out += esc + extra;
                else out += (negated ? "[^" : "[") + esc.substr(0, 1) + "p" + esc.substr(2) + extra + "]";
                i += len - 1;
                continue;
            }
            if (n == 's') out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
            else if (n == 'S' && !in_class) out += "[^" + std::string(kWhiteSpace) + "]";
            else { out += c; out += n; }
            ++i;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            class_start = out.size() + 1;
            if (i + 1 < p.size() && p[i + 1] == '^') { out += "[^"; ++i; class_start = out.size(); continue; }
        } else if (c == ']' && in_class && out.size() > class_start) {
            in_class = false;
        }
        out += c;
    }
    return out;
}

struct ThreadMatchState {
    pcre2_match_data* md = nullptr;
    pcre2_match_context* mc = nullptr;
    pcre2_jit_stack* js = nullptr;
    ThreadMatchState() {
        md = pcre2_match_data_create(8, nullptr);
        mc = pcre2_match_context_create(nullptr);
        js = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
        if (mc && js) pcre2_jit_stack_assign(mc, nullptr, js);
        // A hostile pattern in a tokenizer file must not hang encode(): bound the backtracking.
        if (mc) pcre2_set_match_limit(mc, 50'000'000);
    }
    ~ThreadMatchState() {
        pcre2_match_data_free(md);
        pcre2_match_context_free(mc);
        pcre2_jit_stack_free(js);
    }
};

ThreadMatchState& match_state() {
    thread_local ThreadMatchState st;
    return st;
}

}  // namespace

Result<std::shared_ptr<const Regex>> Regex::compile(const std::string& pattern) {
    const std::string p = translate(pattern);
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                                     PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    if (!code) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(err, buf, sizeof(buf));
        return invalid_argument("regex '" + pattern + "' does not compile at offset " + std::to_string(off) +
                                ": " + reinterpret_cast<char*>(buf));
    }
    std::shared_ptr<Regex> r(new Regex());
    r->code_ = code;
    r->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    return std::shared_ptr<const Regex>(r);
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
    out.clear();
    auto* code = static_cast<pcre2_code*>(code_);
    ThreadMatchState& st = match_state();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    size_t pos = 0;
    while (pos <= s.size()) {
        int rc = jit_ ? pcre2_jit_match(code, subject, s.size(), pos, 0, st.md, st.mc)
                      : pcre2_match(code, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, st.md, st.mc);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
            rc = pcre2_match(code, subject, s.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, st.md, st.mc);
        }
        if (rc < 0) break;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.md);
        const size_t a = ov[0], b = ov[1];
        if (b > a) {
            out.emplace_back(a, b);
            pos = b;
        } else {  // empty match: step over one character
            if (a >= s.size()) break;
            pos = a + std::min(utf8_len(static_cast<unsigned char>(s[a])), s.size() - a);
        }
    }
}

std::string Regex::replace_all(std::string_view s, std::string_view content) const {
    std::vector<std::pair<size_t, size_t>> m;
    find_all(s, m);
    std::string out;
    out.reserve(s.size());
    size_t prev = 0;
    for (auto [a, b] : m) {
        out.append(s.substr(prev, a - prev));
        out.append(content);
        prev = b;
    }
    out.append(s.substr(prev));
    return out;
}

}  // namespace kite::tok
