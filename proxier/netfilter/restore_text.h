#pragma once

#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kpx {

// A parsed section views the text it was parsed from (names, arguments): the text must outlive
// it. A full sync's text is 32 MB of 320 000 rules; copying every token into a string of its own
// cost more than encoding the rules.

// One command of an iptables-restore table section.
struct RestoreCommand {
  enum class Kind { kAppend, kInsert, kDeleteRule, kNewChain, kFlushChain, kDeleteChain };
  Kind kind = Kind::kAppend;
  std::string_view chain;
  // Rule arguments after the chain (kAppend/kInsert/kDeleteRule), in the section's tokens.
  std::span<const std::string_view> args;
  int line = 0;  // 1-based line in the input, for error messages
};

// A ":NAME POLICY [p:b]" line. policy is "-" for user chains.
struct RestoreChainDecl {
  std::string_view name;
  std::string_view policy;
  int line = 0;
};

// One "*table ... COMMIT" section. Move-only: commands view its token storage.
struct RestoreTable {
  std::string name;
  std::vector<RestoreChainDecl> chains;
  std::vector<RestoreCommand> commands;
  // Every command's arguments, one after another; quoted arguments with escapes are unescaped
  // into `unescaped` (a deque: its strings never move), the rest view the text.
  std::vector<std::string_view> tokens;
  std::deque<std::string> unescaped;

  RestoreTable() = default;
  RestoreTable(RestoreTable&&) = default;
  RestoreTable& operator=(RestoreTable&&) = default;
  RestoreTable(const RestoreTable&) = delete;
  RestoreTable& operator=(const RestoreTable&) = delete;
};

// The iptables-restore dialect kpx writes and reads: the format is ours on both ends, so this
// parser accepts exactly what iptables-save prints and what the renderer emits (quoted arguments
// with backslash escapes, comments, counters) and rejects anything else loudly.
class RestoreText {
 public:
  // `first_line`: the number of the text's first line, when it is part of a larger input.
  static Result<std::vector<RestoreTable>> Parse(std::string_view text, int first_line = 1);
  // The tables would view a string about to be destroyed.
  static Result<std::vector<RestoreTable>> Parse(std::string&& text, int first_line = 1) = delete;
  // The line starting at `pos`, without its '\n' or a '\r' before it; `pos` moves past it, to
  // beyond text.size() once the last line is taken (a text ending in '\n' has an empty last line).
  static std::string_view NextLine(std::string_view text, size_t& pos);
  // Splits one line into arguments the way iptables-restore does.
  static Result<std::vector<std::string>> Split(std::string_view line);
  // The same, appended to `out` as views of `line`, or of strings added to `unescaped` for
  // quoted arguments with escapes.
  static Status SplitViews(std::string_view line, std::vector<std::string_view>& out,
                           std::deque<std::string>& unescaped);
  // Quotes an argument for a restore line only when needed, so output stays readable and
  // byte-stable. Control characters (which would end the line) become '?'.
  static std::string Quote(std::string_view arg);
  // Joins arguments with Quote.
  static std::string Join(const std::vector<std::string>& args);
  // Names of the chains a save/restore text declares for `table`.
  static std::vector<std::string> ChainNames(std::string_view text, std::string_view table);
};

}  // namespace kpx
