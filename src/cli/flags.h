// A small flag parser shared by the subcommands: --name VALUE / --name=VALUE, boolean switches,
// repeated flags, an environment-variable fallback per flag, and generated --help text.
// Every bad flag gives one line naming the flag and what was expected.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace kite::cli {

class Flags {
public:
    Flags(std::string command, std::string usage) : command_(std::move(command)), usage_(std::move(usage)) {}

    // Declare before parse(). `env` is an environment variable read when the flag is absent.
    void add(const std::string& name, const std::string& value_name, const std::string& help,
             const std::string& env = "", bool repeated = false);
    void add_switch(const std::string& name, const std::string& help, const std::string& env = "");
    // Flags declared after this print under their own heading in --help.
    void section(const std::string& title);

    // Returns false after printing help (--help) ; errors as Status.
    Result<bool> parse(int argc, char** argv);
    std::string help() const;

    bool has(const std::string& name) const;
    // Given on the command line (not only through its environment variable).
    bool given(const std::string& name) const { return has(name) && from_env_.count(name) == 0; }
    std::optional<std::string> get(const std::string& name) const;
    std::vector<std::string> get_all(const std::string& name) const;
    std::string get_or(const std::string& name, const std::string& fallback) const;
    Result<int64_t> get_int(const std::string& name, int64_t fallback, int64_t min, int64_t max) const;
    Result<double> get_double(const std::string& name, double fallback, double min, double max) const;
    bool get_switch(const std::string& name) const;

private:
    struct Spec {
        std::string value_name, help, env;
        bool is_switch = false, repeated = false;
    };
    std::string command_, usage_;
    std::vector<std::string> order_;
    std::map<std::string, Spec> specs_;
    std::map<std::string, std::string> sections_;  // first flag of a section -> its title
    std::string pending_section_;
    void take_section(const std::string& name);
    std::map<std::string, std::vector<std::string>> values_;
    std::set<std::string> from_env_;
};

// Prints "kite <command>: <message>" on stderr and returns exit code 1.
int fail(const std::string& command, const Status& status);

}  // namespace kite::cli
