#pragma once

#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "proxier/netfilter/restore_text.h"

namespace kpx {

// Reads iptables-restore text a line at a time, as RestoreText::Parse does but without keeping
// what it read: the libiptc runner encodes a full sync's 320 000 rules as they are read, where
// keeping every argument of the section cost 51 MB at 10 000 x 10. Names and arguments view the
// text, except escaped arguments, which view the reader's own storage until the next line.
class RestoreReader {
 public:
  enum class Kind { kTable, kChain, kCommand, kCommit };

  // `first_line`: the number of the text's first line in a larger input, for error messages.
  explicit RestoreReader(std::string_view text, int first_line = 1)
      : single_(text), pieces_(&single_, 1), line_(first_line - 1) {}
  // The pieces read as if joined; each is whole lines (a piece's last line ends with it). They
  // must outlive the reader.
  explicit RestoreReader(std::span<const std::string_view> pieces, int first_line = 1)
      : pieces_(pieces), line_(first_line - 1) {}
  RestoreReader(const RestoreReader&) = delete;
  RestoreReader& operator=(const RestoreReader&) = delete;

  // Moves to the next line that says something (blank lines and comments are skipped). False at
  // the end of the text; an error for a malformed line or a table without COMMIT.
  Result<bool> Next();

  Kind kind() const { return kind_; }
  int line() const { return line_; }
  std::string_view table() const { return table_; }           // kTable
  const RestoreChainDecl& chain() const { return chain_; }    // kChain
  const RestoreCommand& command() const { return command_; }  // kCommand
  const std::deque<std::string>& unescaped() const { return unescaped_; }

 private:
  Status Error(const std::string& what) const;
  // The next line of the pieces into `line`; false after the last.
  bool NextLine(std::string_view& line);

  std::string_view single_;  // the text, when the reader was given one
  std::span<const std::string_view> pieces_;
  size_t piece_ = 0;
  size_t pos_ = 0;  // in pieces_[piece_]
  int line_ = 0;
  bool in_table_ = false;
  Kind kind_ = Kind::kCommit;
  std::string_view table_;
  RestoreChainDecl chain_;
  RestoreCommand command_;
  std::vector<std::string_view> tokens_;  // this line's, reused
  std::deque<std::string> unescaped_;     // this line's escaped arguments
};

}  // namespace kpx
