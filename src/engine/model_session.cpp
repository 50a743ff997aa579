// open_model_session (see model_session.h).
#include "engine/model_session.h"

#include "model/gguf_tokenizer.h"

namespace kite {

ModelLimits ModelSession::limits(int max_model_len) const {
    ModelLimits l;
    l.vocab_size = model->config().vocab_size;
    l.max_model_len = max_model_len;
    l.defaults = defaults;
    return l;
}

Result<ModelSession> open_model_session(const std::string& model_path, const std::string& tokenizer_path,
                                        const LoadOptions& options) {
    KITE_ASSIGN_OR_RETURN(Checkpoint c, load_checkpoint(model_path, options, /*load_tokenizer=*/tokenizer_path.empty()));
    ModelSession s;
    s.model = std::move(c.model);
    s.defaults = c.defaults;
    s.tokenizer = std::move(c.tokenizer);
    s.tokenizer_error = c.tokenizer_error;
    if (!tokenizer_path.empty()) {
        KITE_ASSIGN_OR_RETURN(std::shared_ptr<Tokenizer> tok, load_model_tokenizer(tokenizer_path));
        s.tokenizer = std::move(tok);
    }
    return s;
}

}  // namespace kite
