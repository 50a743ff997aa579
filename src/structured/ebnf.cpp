// GBNF-style EBNF (the grammar dialect of llama.cpp and of vLLM's guided_grammar) to the Lark
// dialect llguidance reads. Rules `name ::= ...` become `name: ...` (root -> start, '-' -> '_'),
// character classes and '.' become regex terminals, {m,n} becomes Lark's `~ m..n`. A grammar with
// no "::=" is taken to be Lark already.
#include <cctype>

#include "structured/grammar.h"

namespace kite::structured {

namespace {

struct Rule {
    std::string name;
    std::vector<std::string> atoms;  // the body, one entry per atom / operator
    std::vector<size_t> open;        // indexes of '(' not yet closed
};

std::string rule_name(const std::string& n) {
    if (n == "root") return "start";
    std::string out;
    for (char c : n) out += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (out == "start") out = "start_";
    if (std::isdigit(static_cast<unsigned char>(out[0]))) out = "r_" + out;
    return out;
}

}  // namespace

Result<std::string> ebnf_to_lark(const std::string& g) {
    if (g.find("::=") == std::string::npos) return g;
    std::vector<Rule> rules;
    size_t i = 0, line = 1;
    auto fail = [&](const std::string& what) -> Status {
        return invalid_argument("line " + std::to_string(line) + ": " + what);
    };
    auto skip_space = [&] {
        while (i < g.size()) {
            if (g[i] == '\n') { ++line; ++i; }
            else if (std::isspace(static_cast<unsigned char>(g[i]))) ++i;
            else if (g[i] == '#') { while (i < g.size() && g[i] != '\n') ++i; }
            else break;
        }
    };
    auto is_name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; };
    auto postfix = [&](Rule& r, const std::string& op) -> Status {
        if (r.atoms.empty() || r.atoms.back() == "|" || r.atoms.back() == "(") return fail("'" + op + "' follows nothing");
        r.atoms.back() = op[0] == '~' ? "(" + r.atoms.back() + ")" + op : r.atoms.back() + op;
        return Status::ok();
    };
    while (true) {
        skip_space();
        if (i >= g.size()) break;
        const char c = g[i];
        if (is_name_char(c)) {
            size_t j = i;
            while (j < g.size() && is_name_char(g[j])) ++j;
            const std::string name = g.substr(i, j - i);
            size_t k = j;
            while (k < g.size() && (g[k] == ' ' || g[k] == '\t')) ++k;
            if (g.compare(k, 3, "::=") == 0) {
                if (!rules.empty() && !rules.back().open.empty()) return fail("unclosed '(' in rule " + rules.back().name);
                rules.push_back({name, {}, {}});
                i = k + 3;
                continue;
            }
            if (rules.empty()) return fail("expected a rule 'name ::= ...' first");
            rules.back().atoms.push_back(rule_name(name));
            i = j;
            continue;
        }
        if (rules.empty()) return fail("expected a rule 'name ::= ...' first");
        Rule& r = rules.back();
        if (c == '"') {
            size_t j = i + 1;
            while (j < g.size() && g[j] != '"') j += g[j] == '\\' ? 2 : 1;
            if (j >= g.size()) return fail("unterminated string");
            r.atoms.push_back(g.substr(i, j + 1 - i));
            i = j + 1;
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < g.size() && g[j] == '^') ++j;
            if (j < g.size() && g[j] == ']') ++j;  // a leading ']' is literal
            while (j < g.size() && g[j] != ']') j += g[j] == '\\' ? 2 : 1;
            if (j >= g.size()) return fail("unterminated character class");
            std::string cls;
            for (size_t k = i; k <= j; ++k) cls += g[k] == '/' ? "\\/" : std::string(1, g[k]);
            r.atoms.push_back("/" + cls + "/");
            i = j + 1;
        } else if (c == '.') {
            r.atoms.push_back("/(?s:.)/");
            ++i;
        } else if (c == '(') {
            r.open.push_back(r.atoms.size());
            r.atoms.push_back("(");
            ++i;
        } else if (c == ')') {
            if (r.open.empty()) return fail("')' without '('");
            const size_t at = r.open.back();
            r.open.pop_back();
            std::string group = "(";
            for (size_t k = at + 1; k < r.atoms.size(); ++k) group += (k > at + 1 ? " " : "") + r.atoms[k];
            group += ")";
            r.atoms.resize(at);
            r.atoms.push_back(group);
            ++i;
        } else if (c == '|') {
            r.atoms.push_back("|");
            ++i;
        } else if (c == '*' || c == '+' || c == '?') {
            KITE_RETURN_IF_ERROR(postfix(r, std::string(1, c)));
            ++i;
        } else if (c == '{') {
            const size_t j = g.find('}', i);
            if (j == std::string::npos) return fail("unterminated '{'");
            const std::string in = g.substr(i + 1, j - i - 1);
            const size_t comma = in.find(',');
            auto num = [&](const std::string& s, int& v) {
                if (s.empty() || s.find_first_not_of("0123456789 ") != std::string::npos) return false;
                v = std::stoi(s);
                return true;
            };
            int lo = 0, hi = 0;
            if (comma == std::string::npos) {
                if (!num(in, lo)) return fail("bad repetition {" + in + "}");
                KITE_RETURN_IF_ERROR(postfix(r, "~" + std::to_string(lo)));
            } else {
                const std::string a = in.substr(0, comma), b = in.substr(comma + 1);
                if (!a.empty() && !num(a, lo)) return fail("bad repetition {" + in + "}");
                if (b.find_first_not_of(' ') == std::string::npos) {  // {m,}: m copies then any number
                    if (r.atoms.empty()) return fail("'{' follows nothing");
                    const std::string x = r.atoms.back();
                    r.atoms.back() = "(" + (lo > 0 ? "(" + x + ")~" + std::to_string(lo) + " " : std::string()) + x + "*)";
                } else {
                    if (!num(b, hi) || hi < lo) return fail("bad repetition {" + in + "}");
                    KITE_RETURN_IF_ERROR(postfix(r, "~" + std::to_string(lo) + ".." + std::to_string(hi)));
                }
            }
            i = j + 1;
        } else {
            return fail(std::string("unexpected character '") + c + "'");
        }
    }
    if (rules.empty()) return invalid_argument("the grammar has no rules");
    bool has_root = false;
    std::string out;
    for (const Rule& r : rules) {
        if (!r.open.empty()) return invalid_argument("unclosed '(' in rule " + r.name);
        if (r.atoms.empty()) return invalid_argument("rule " + r.name + " is empty");
        has_root = has_root || r.name == "root";
        out += rule_name(r.name) + ":";
        for (const std::string& a : r.atoms) out += " " + a;
        out += "\n";
    }
    if (!has_root) return invalid_argument("the grammar has no 'root' rule");
    return out;
}

}  // namespace kite::structured
