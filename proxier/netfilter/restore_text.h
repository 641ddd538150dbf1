#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kpx {

// One command of an iptables-restore table section.
struct RestoreCommand {
  enum class Kind { kAppend, kInsert, kDeleteRule, kNewChain, kFlushChain, kDeleteChain };
  Kind kind = Kind::kAppend;
  std::string chain;
  std::vector<std::string> args;  // rule arguments after the chain (kAppend/kInsert/kDeleteRule)
  int line = 0;                   // 1-based line in the input, for error messages
};

// A ":NAME POLICY [p:b]" line. policy is "-" for user chains.
struct RestoreChainDecl {
  std::string name;
  std::string policy;
  int line = 0;
};

// One "*table ... COMMIT" section.
struct RestoreTable {
  std::string name;
  std::vector<RestoreChainDecl> chains;
  std::vector<RestoreCommand> commands;
};

// The iptables-restore dialect kpx writes and reads: the format is ours on both ends, so this
// parser accepts exactly what iptables-save prints and what the renderer emits (quoted arguments
// with backslash escapes, comments, counters) and rejects anything else loudly.
class RestoreText {
 public:
  static Result<std::vector<RestoreTable>> Parse(std::string_view text);
  // Splits one line into arguments the way iptables-restore does.
  static Result<std::vector<std::string>> Split(std::string_view line);
  // Quotes an argument for a restore line only when needed, so output stays readable and
  // byte-stable. Control characters (which would end the line) become '?'.
  static std::string Quote(std::string_view arg);
  // Joins arguments with Quote.
  static std::string Join(const std::vector<std::string>& args);
  // Names of the chains a save/restore text declares for `table`.
  static std::vector<std::string> ChainNames(std::string_view text, std::string_view table);
};

}  // namespace kpx
