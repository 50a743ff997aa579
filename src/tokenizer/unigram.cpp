// The Unigram model (SentencePiece): Viterbi over a byte trie of the pieces with their scores;
// characters no piece covers get unk with score min_score - 10; consecutive unks fuse (fuse_unk);
// pieces missing from the vocabulary fall back to <0xXX> byte tokens when byte_fallback is set.
#include <cmath>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace kite::tok {

namespace {

constexpr double kUnkPenalty = 10.0;

class UnigramModel final : public Model {
public:
    Status load(const json& j);

    Status tokenize(std::string_view s, std::vector<int32_t>& out) const override {
        if (s.empty()) return Status::ok();
        struct Node {
            int32_t id = -1;
            double score = 0;
            int64_t start = -1;
        };
        const size_t n = s.size();
        std::vector<Node> best(n + 1);
        best[0].start = 0;
        size_t pos = 0;
        while (pos < n) {
            const double base = best[pos].score;
            const size_t mblen = std::min(utf8_len(static_cast<unsigned char>(s[pos])), n - pos);
            bool single = false;
            int32_t node = 0;
            for (size_t k = pos; k < n; ++k) {
                const int32_t* next = edges_.find(edge_key(node, static_cast<unsigned char>(s[k])));
                if (!next) break;
                node = *next;
                const int32_t id = terminal_[node];
                if (id < 0) continue;
                const size_t end = k + 1;
                const double cand = base + scores_[id];
                if (best[end].start < 0 || cand > best[end].score) best[end] = Node{id, cand, static_cast<int64_t>(pos)};
                if (end - pos == mblen) single = true;
            }
            if (!single) {
                if (!unk_id_) return invalid_argument("model Unigram: text needs the unknown token but the model has no unk_id");
                const double cand = base + min_score_ - kUnkPenalty;
                Node& t = best[pos + mblen];
                if (t.start < 0 || cand > t.score) t = Node{*unk_id_, cand, static_cast<int64_t>(pos)};
            }
            pos += mblen;
        }
        // Walk back; unks fuse into one piece.
        std::vector<std::pair<size_t, size_t>> pieces;
        std::vector<bool> is_unk;
        size_t end = n;
        while (end > 0) {
            const Node& nd = best[end];
            const size_t st = static_cast<size_t>(nd.start);
            const bool u = unk_id_ && nd.id == *unk_id_;
            if (u && fuse_unk_ && !pieces.empty() && is_unk.back()) pieces.back().first = st;
            else { pieces.emplace_back(st, end); is_unk.push_back(u && fuse_unk_); }
            end = st;
        }
        for (size_t k = pieces.size(); k-- > 0;) {
            const std::string_view piece = s.substr(pieces[k].first, pieces[k].second - pieces[k].first);
            if (auto id = vocab_.find(piece)) { out.push_back(*id); continue; }
            if (byte_fallback_) {
                std::vector<int32_t> bytes;
                for (char c : piece) {
                    auto bt = vocab_.find(byte_fallback_token(static_cast<unsigned char>(c)));
                    if (!bt) { bytes.clear(); break; }
                    bytes.push_back(*bt);
                }
                if (!bytes.empty()) { out.insert(out.end(), bytes.begin(), bytes.end()); continue; }
            }
            if (!unk_id_) return invalid_argument("model Unigram: piece has no id and the model has no unk_id");
            out.push_back(*unk_id_);
        }
        return Status::ok();
    }

    std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
    const std::string* id_to_token(int32_t id) const override {
        if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return nullptr;
        return &pieces_[id];
    }
    int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }

private:
    static uint64_t edge_key(int32_t node, unsigned char c) { return (static_cast<uint64_t>(node) << 8) | c; }

    std::vector<std::string> pieces_;
    std::vector<double> scores_;
    TokenTable vocab_;
    PairTable<int32_t> edges_;  // (node, byte) -> child node
    std::vector<int32_t> terminal_;  // per trie node: piece id ending here, or -1
    std::optional<int32_t> unk_id_;
    double min_score_ = 0;
    bool byte_fallback_ = false, fuse_unk_ = true;
};

Status UnigramModel::load(const json& j) {
    const std::string where = "model Unigram";
    auto vit = j.find("vocab");
    if (vit == j.end() || !vit->is_array()) return invalid_argument(where + ": field 'vocab' must be an array");
    terminal_.push_back(-1);
    min_score_ = INFINITY;
    for (const json& e : *vit) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
            return invalid_argument(where + ": vocab entry #" + std::to_string(pieces_.size()) +
                                    " must be [piece, score]");
        const int32_t id = static_cast<int32_t>(pieces_.size());
        pieces_.push_back(e[0].get<std::string>());
        scores_.push_back(e[1].get<double>());
        min_score_ = std::min(min_score_, scores_.back());
        vocab_.set(pieces_.back(), id);  // a duplicate piece keeps its last id, as HF does
        int32_t node = 0;
        for (char c : pieces_.back()) {
            const uint64_t k = edge_key(node, static_cast<unsigned char>(c));
            if (const int32_t* next = edges_.find(k)) {
                node = *next;
            } else {
                node = static_cast<int32_t>(terminal_.size());
                edges_.set(k, node);
                terminal_.push_back(-1);
            }
        }
        if (node != 0) terminal_[node] = id;
    }
    if (pieces_.empty()) min_score_ = 0;
    auto uit = j.find("unk_id");
    if (uit != j.end() && !uit->is_null()) {
        if (!uit->is_number_integer() || uit->get<int64_t>() < 0 || uit->get<int64_t>() >= static_cast<int64_t>(pieces_.size()))
            return invalid_argument(where + ": unk_id must be an index into vocab");
        unk_id_ = uit->get<int32_t>();
    }
    byte_fallback_ = get_bool_or(j, "byte_fallback", false);
    return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Model>> make_unigram_model(const json& j) {
    auto m = std::make_unique<UnigramModel>();
    KITE_RETURN_IF_ERROR(m->load(j));
    return std::unique_ptr<Model>(std::move(m));
}

}  // namespace kite::tok
