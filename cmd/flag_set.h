#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace kpx {

// A command-line parser with pflag's syntax, so kube-proxy's command lines work unchanged:
// "--name=value", "--name value", "-v=4", "--flag" for booleans, "--" ends flags. Values are
// bound to caller-owned variables; Parse records which flags were given so a config file can be
// overridden by exactly those.
class FlagSet {
 public:
  void String(const std::string& name, std::string* target, const std::string& help);
  void Bool(const std::string& name, bool* target, const std::string& help);
  void Int(const std::string& name, int32_t* target, const std::string& help);
  void Duration(const std::string& name, std::chrono::milliseconds* target,
                const std::string& help);
  // A comma-separated list ("a,b,c"); repeated flags append.
  void StringList(const std::string& name, std::vector<std::string>* target,
                  const std::string& help);
  void Float(const std::string& name, float* target, const std::string& help);
  // A flag with its own parser (`set` gets the value text and reports a bad value); `is_bool`
  // flags take "--name" alone as "--name=true", as pflag's boolean-like values do.
  void Func(const std::string& name, bool is_bool, const std::string& default_text,
            std::function<Status(const std::string& value)> set, const std::string& help);
  // Another name for an existing flag (kube-proxy's --iptables-sync-period for --sync-period).
  void Alias(const std::string& alias, const std::string& name);
  // A one-letter name, usable as "-h" or "-v=4" (pflag's shorthands).
  void Shorthand(char letter, const std::string& name);

  // Parses argv[1..]. Positional arguments are an error: kube-proxy takes none. May be called
  // again (after loading a config file into the bound variables) to re-apply the same flags.
  Status Parse(int argc, const char* const* argv);
  bool WasSet(const std::string& name) const { return set_.contains(name); }
  std::string Usage() const;

 private:
  struct Flag {
    std::string help;
    bool is_bool = false;
    std::string default_text;
    // `first` is true for the flag's first occurrence in one Parse call.
    std::function<Status(const std::string& value, bool first)> set;
  };
  void Add(const std::string& name, Flag flag);

  std::map<std::string, Flag> flags_;
  std::map<std::string, std::string> aliases_;
  std::map<char, std::string> shorthands_;
  std::set<std::string> set_;
};

}  // namespace kpx
