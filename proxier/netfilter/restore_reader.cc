#include "proxier/netfilter/restore_reader.h"

namespace kpx {

Status RestoreReader::Error(const std::string& what) const {
  return Status::Error("restore input line " + std::to_string(line_) + ": " + what);
}

bool RestoreReader::NextLine(std::string_view& line) {
  for (; piece_ < pieces_.size(); ++piece_, pos_ = 0) {
    if (pos_ < pieces_[piece_].size()) {
      line = RestoreText::NextLine(pieces_[piece_], pos_);
      return true;
    }
  }
  return false;
}

Result<bool> RestoreReader::Next() {
  unescaped_.clear();
  std::string_view line;
  while (NextLine(line)) {
    ++line_;
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '*') {
      if (in_table_) return Error("table started before COMMIT");
      kind_ = Kind::kTable;
      table_ = line.substr(1);
      in_table_ = true;
      return true;
    }
    if (line == "COMMIT") {
      if (!in_table_) return Error("COMMIT outside a table");
      kind_ = Kind::kCommit;
      in_table_ = false;
      return true;
    }
    if (!in_table_) return Error("command outside a table");
    tokens_.clear();
    if (line[0] == ':') {
      Status st = RestoreText::SplitViews(line.substr(1), tokens_, unescaped_);
      if (!st.ok() || tokens_.size() < 2) return Error("bad chain line");
      if (tokens_[0].empty() || tokens_[0].size() > 28) return Error("bad chain name");
      kind_ = Kind::kChain;
      chain_ = {tokens_[0], tokens_[1], line_};
      return true;
    }
    if (Status st = RestoreText::SplitViews(line, tokens_, unescaped_); !st.ok()) {
      return Error(st.message());
    }
    if (tokens_.size() < 2) return Error("missing chain");
    using K = RestoreCommand::Kind;
    const std::string_view op = tokens_[0];
    K kind;
    if (op == "-A" || op == "--append") {
      kind = K::kAppend;
    } else if (op == "-I" || op == "--insert") {
      kind = K::kInsert;
    } else if (op == "-D" || op == "--delete") {
      kind = K::kDeleteRule;
    } else if (op == "-N" || op == "--new-chain") {
      kind = K::kNewChain;
    } else if (op == "-F" || op == "--flush") {
      kind = K::kFlushChain;
    } else if (op == "-X" || op == "--delete-chain") {
      kind = K::kDeleteChain;
    } else {
      return Error("unsupported command " + std::string(op));
    }
    const bool takes_rule = kind == K::kAppend || kind == K::kInsert || kind == K::kDeleteRule;
    if (!takes_rule && tokens_.size() > 2) return Error("unexpected arguments");
    kind_ = Kind::kCommand;
    command_.kind = kind;
    command_.chain = tokens_[1];
    command_.args = std::span<const std::string_view>(tokens_).subspan(2);
    command_.line = line_;
    return true;
  }
  if (in_table_) return Status::Error("restore input ends without COMMIT");
  return false;
}

}  // namespace kpx
