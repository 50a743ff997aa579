// Stop strings over streamed text: holds back the tail of the text that could still become a stop
// string, and cuts the output where one matches. One matcher per sequence.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kite {

class StopMatcher {
public:
    StopMatcher() = default;
    StopMatcher(std::vector<std::string> stops, bool include_stop_str_in_output);

    // Feeds newly decoded text; returns the text that is now safe to emit. After a match, stopped()
    // is true, the returned text ends right before the stop string (or after it when
    // include_stop_str_in_output), and further feeds return "".
    std::string feed(std::string_view text);
    // End of the sequence without a match: returns the held-back text. A complete match that was
    // waiting on an earlier-starting stop still in progress ("abcd" vs "bc" after "abc") is applied
    // here instead: stopped() becomes true and the text is cut as feed() would have cut it.
    std::string flush();
    bool stopped() const { return stopped_; }
    const std::string& matched() const { return matched_; }
    bool empty() const { return stops_.empty(); }

private:
    std::string stop_at(size_t pos, size_t stop_index);  // records the match; returns what to emit

    std::vector<std::string> stops_;
    bool include_ = false;
    size_t max_len_ = 0;
    std::string pending_;  // text not yet emitted (could be the start of a stop string)
    bool stopped_ = false;
    std::string matched_;
};

}  // namespace kite
