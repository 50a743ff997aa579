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

const char* policy_name(SchedulingPolicy policy) {
    switch (policy) {
        case SchedulingPolicy::kFcfs: return "fcfs";
        case SchedulingPolicy::kPriority: return "priority";
        case SchedulingPolicy::kStatic: return "static";
    }
    return "";
}

}  // namespace kite
