// The BPE model: byte-level (GPT-2 style) and SentencePiece style (byte_fallback, fuse_unk),
// continuing_subword_prefix / end_of_word_suffix, ignore_merges. Merging keeps the symbols in a
// linked list and candidate pairs in a heap, so a word of n symbols costs O(n log n), not O(n^2).
// Dropout is ignored (inference is deterministic).
#include <functional>
#include <mutex>
#include <queue>
#include <shared_mutex>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_model.h"

namespace kite::tok {

namespace {

struct MergeInfo {
    int32_t rank;
    int32_t new_id;
};

struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
};

// Heap entry: rank in the high half, position in the low half, so that the smallest key is the
// lowest rank and, among equal ranks, the leftmost pair (HF's order). 8 bytes keep a heap over a
// multi-megabyte word (SentencePiece style: the whole text is one word) cache-friendlier.
using Candidate = uint64_t;
inline Candidate candidate(int32_t rank, int32_t pos) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(rank)) << 32) | static_cast<uint32_t>(pos);
}

struct CacheHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return hash_bytes(s); }
};

constexpr size_t kCacheCapacity = 1 << 16;
constexpr size_t kCacheMaxWordBytes = 256;

class BpeModel final : public VocabModel {
public:
    Status tokenize(std::string_view word, std::vector<int32_t>& out) const override {
        if (word.empty()) return Status::ok();
        if (ignore_merges_) {
            if (auto id = vocab_.find(word)) { out.push_back(*id); return Status::ok(); }
        }
        const bool cacheable = word.size() <= kCacheMaxWordBytes;
        if (cacheable) {
            std::shared_lock lock(cache_mu_);
            auto it = cache_.find(word);
            if (it != cache_.end()) {
                out.insert(out.end(), it->second.begin(), it->second.end());
                return Status::ok();
            }
        }
        const size_t before = out.size();
        KITE_RETURN_IF_ERROR(merge_word(word, out));
        if (cacheable) {
            std::unique_lock lock(cache_mu_);
            if (cache_.size() < kCacheCapacity)
                cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + before, out.end()));
        }
        return Status::ok();
    }

    Status load(const json& j);

private:
    std::optional<int32_t> find(std::string_view s) const { return vocab_.find(s); }

    Status merge_word(std::string_view w, std::vector<int32_t>& out) const {
        std::vector<Symbol> syms;
        syms.reserve(w.size());
        auto add = [&](int32_t id) {
            const int32_t n = static_cast<int32_t>(syms.size());
            syms.push_back(Symbol{id, n - 1, n + 1, true});
        };
        int32_t unk = -1;  // pending (possibly fused) unknown id, or -1
        std::string buf;
        size_t i = 0;
        while (i < w.size()) {
            const size_t st = i;
            i += std::min(utf8_len(static_cast<unsigned char>(w[i])), w.size() - i);
            const bool first = st == 0, last = i == w.size();
            std::string_view s = w.substr(st, i - st);
            if ((!first && !prefix_.empty()) || (last && !suffix_.empty())) {
                buf.clear();
                if (!first) buf += prefix_;
                buf.append(s);
                if (last) buf += suffix_;
                s = buf;
            }
            if (auto id = find(s)) {
                if (unk >= 0) { add(unk); unk = -1; }
                add(*id);
                continue;
            }
            if (byte_fallback_) {
                bool all = true;
                const size_t mark = syms.size();
                for (char c : s) {
                    auto id = find(byte_fallback_token(static_cast<unsigned char>(c)));
                    if (!id) { all = false; break; }
                    add(*id);
                }
                if (all) continue;
                syms.resize(mark);
            }
            if (unk_id_) {
                if (unk >= 0 && !fuse_unk_) add(unk);
                unk = *unk_id_;
            }
        }
        if (unk >= 0) add(unk);
        if (syms.empty()) return Status::ok();
        syms.back().next = -1;

        Heap heap;
        std::vector<Candidate> init;
        init.reserve(syms.size());
        for (size_t k = 0; k + 1 < syms.size(); ++k) {
            if (const MergeInfo* m = merges_.find(key(syms[k].id, syms[k + 1].id)))
                init.push_back(candidate(m->rank, static_cast<int32_t>(k)));
        }
        heap = Heap(std::greater<>(), std::move(init));  // heapify in O(n)
        while (!heap.empty()) {
            const Candidate top = heap.top();
            heap.pop();
            const int32_t pos = static_cast<int32_t>(top & 0xFFFFFFFFu);
            const int32_t rank = static_cast<int32_t>(top >> 32);
            Symbol& left = syms[pos];
            if (!left.alive || left.next < 0) continue;
            const Symbol& right = syms[left.next];
            const MergeInfo* m = merges_.find(key(left.id, right.id));
            if (!m || m->rank != rank) continue;  // stale: the pair at pos changed since the push
            const int32_t right_pos = left.next;
            left.id = m->new_id;
            left.next = right.next;
            syms[right_pos].alive = false;
            if (left.next >= 0) syms[left.next].prev = pos;
            if (left.prev >= 0) push_pair(heap, syms, left.prev);
            push_pair(heap, syms, pos);
        }
        for (const Symbol& s : syms) if (s.alive) out.push_back(s.id);
        return Status::ok();
    }

    using Heap = std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>>;

    void push_pair(Heap& heap, const std::vector<Symbol>& syms, int32_t pos) const {
        const Symbol& a = syms[pos];
        if (a.next < 0) return;
        if (const MergeInfo* m = merges_.find(key(a.id, syms[a.next].id))) heap.push(candidate(m->rank, pos));
    }

    static uint64_t key(int32_t a, int32_t b) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }

    PairTable<MergeInfo> merges_;
    std::optional<int32_t> unk_id_;
    std::string prefix_, suffix_;
    bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
    mutable std::shared_mutex cache_mu_;
    mutable std::unordered_map<std::string, std::vector<int32_t>, CacheHash, std::equal_to<>> cache_;
};

Status BpeModel::load(const json& j) {
    const std::string where = "model BPE";
    KITE_RETURN_IF_ERROR(load_vocab(j, where));
    auto str_or_null = [&](const char* k) { return get_string_or(j, k, ""); };
    prefix_ = str_or_null("continuing_subword_prefix");
    suffix_ = str_or_null("end_of_word_suffix");
    byte_fallback_ = get_bool_or(j, "byte_fallback", false);
    fuse_unk_ = get_bool_or(j, "fuse_unk", false);
    ignore_merges_ = get_bool_or(j, "ignore_merges", false);
    const std::string unk = str_or_null("unk_token");
    if (!unk.empty()) {
        if (auto id = find(unk)) unk_id_ = *id;
        else return invalid_argument(where + ": unk_token '" + unk + "' is not in the vocabulary");
    }

    auto mit = j.find("merges");
    if (mit == j.end() || mit->is_null()) return Status::ok();
    if (!mit->is_array()) return invalid_argument(where + ": field 'merges' must be an array");
    merges_.reserve(mit->size());
    int32_t rank = 0;
    std::string_view a, b;
    std::string merged;
    for (const json& m : *mit) {
        if (m.is_string()) {
            const std::string& s = m.get_ref<const std::string&>();
            const size_t sp = s.find(' ');
            if (sp == std::string::npos)
                return invalid_argument(where + ": merge '" + s + "' is not two tokens separated by a space");
            a = std::string_view(s).substr(0, sp);
            b = std::string_view(s).substr(sp + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            a = m[0].get_ref<const std::string&>();
            b = m[1].get_ref<const std::string&>();
        } else {
            return invalid_argument(where + ": merge #" + std::to_string(rank) + " must be \"a b\" or [\"a\", \"b\"]");
        }
        auto ia = find(a), ib = find(b);
        if (!ia || !ib)
            return invalid_argument(where + ": merge #" + std::to_string(rank) + " uses token '" +
                                    std::string(ia ? b : a) + "' that is not in the vocabulary");
        merged.assign(a);
        if (b.size() >= prefix_.size()) merged.append(b.substr(prefix_.size()));
        auto in = find(merged);
        if (!in) return invalid_argument(where + ": merge result '" + merged + "' is not in the vocabulary");
        merges_.set(key(*ia, *ib), MergeInfo{rank, *in});
        ++rank;
    }
    return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Model>> make_bpe_model(const json& j) {
    auto m = std::make_unique<BpeModel>();
    KITE_RETURN_IF_ERROR(m->load(j));
    return std::unique_ptr<Model>(std::move(m));
}

}  // namespace kite::tok
