// Ordering and admission rules of the scheduling policies (see scheduling_policy.h).
#include "engine/scheduling_policy.h"

namespace kite {

bool serves_before(SchedulingPolicy policy, const Request& a, const Request& b) {
    switch (policy) {
        case SchedulingPolicy::kPriority:
            if (a.params.priority != b.params.priority) return a.params.priority < b.params.priority;
            return a.arrival_seq < b.arrival_seq;
        case SchedulingPolicy::kFcfs:
        case SchedulingPolicy::kStatic:
            return a.arrival_seq < b.arrival_seq;
    }
    return a.arrival_seq < b.arrival_seq;
}

bool may_admit(SchedulingPolicy policy, int num_running, int num_swapped) {
    switch (policy) {
        case SchedulingPolicy::kStatic: return num_running == 0 && num_swapped == 0;
        case SchedulingPolicy::kFcfs:
        case SchedulingPolicy::kPriority: return num_swapped == 0;  // swapped requests come back first
    }
    return false;
}

int fair_reserve(int max_num_seqs) { return max_num_seqs / 8; }

bool fair_admits(const Seats& s, int width, bool overtaking, int blocked_width) {
    const int reserve = fair_reserve(s.max_num_seqs);
    const bool fits = s.occupied + width <= s.max_num_seqs;
    if (reserve == 0) return fits && !overtaking;
    if (width > reserve) {
        // Wide: never into the reserve, unless it is wider than what the reserve leaves (it then
        // needs the whole engine and gets it when it is alone).
        const int usable = width > s.max_num_seqs - reserve ? s.max_num_seqs : s.max_num_seqs - reserve;
        return !overtaking && s.occupied + width <= usable;
    }
    if (!overtaking) return fits;
    // Nothing overtakes a request that needs the whole engine: it would wait forever.
    if (blocked_width > s.max_num_seqs - reserve) return false;
    return fits && s.occupied_narrow + width <= reserve;
}

const char* policy_name(SchedulingPolicy policy) {
    switch (policy) {
        case SchedulingPolicy::kFcfs: return "fcfs";
        case SchedulingPolicy::kPriority: return "priority";
        case SchedulingPolicy::kStatic: return "static";
    }
    return "";
}

}  // namespace kite
