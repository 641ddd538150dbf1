#include "proxier/netfilter/restore_text.h"

#include <cstdlib>

namespace kpx {

namespace {

bool NeedsQuoting(std::string_view arg) {
  if (arg.empty()) return true;
  for (char c : arg) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || c == '"' || c == '\\' || c == '\'' || u >= 0x7f) return true;
  }
  return false;
}

Status LineError(int line, const std::string& what) {
  return Status::Error("restore input line " + std::to_string(line) + ": " + what);
}

}  // namespace

Result<std::vector<std::string>> RestoreText::Split(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::string token;
    if (line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        const char c = line[i++];
        if (c == '\\' && i < line.size()) {
          token.push_back(line[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          token.push_back(c);
        }
      }
      if (!closed) return Status::Error("unterminated quote");
      if (i < line.size() && line[i] != ' ' && line[i] != '\t') {
        return Status::Error("garbage after closing quote");
      }
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') token.push_back(line[i++]);
    }
    out.push_back(std::move(token));
  }
  return out;
}

std::string RestoreText::Quote(std::string_view arg) {
  if (!NeedsQuoting(arg)) return std::string(arg);
  std::string out = "\"";
  for (char c : arg) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < ' ' || u == 0x7f) {
      out.push_back('?');
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string RestoreText::Join(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    if (!out.empty()) out.push_back(' ');
    out += Quote(a);
  }
  return out;
}

Result<std::vector<RestoreTable>> RestoreText::Parse(std::string_view text) {
  std::vector<RestoreTable> tables;
  bool in_table = false;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') {
      if (end == text.size()) break;
      continue;
    }
    if (line[0] == '*') {
      if (in_table) return LineError(line_no, "table started before COMMIT");
      tables.push_back(RestoreTable{std::string(line.substr(1)), {}, {}});
      in_table = true;
    } else if (line == "COMMIT") {
      if (!in_table) return LineError(line_no, "COMMIT outside a table");
      in_table = false;
    } else if (!in_table) {
      return LineError(line_no, "command outside a table");
    } else if (line[0] == ':') {
      auto parts = Split(line.substr(1));
      if (!parts.ok() || parts->size() < 2) return LineError(line_no, "bad chain line");
      const std::string& name = (*parts)[0];
      if (name.empty() || name.size() > 28) return LineError(line_no, "bad chain name");
      tables.back().chains.push_back({name, (*parts)[1], line_no});
    } else {
      auto parts = Split(line);
      if (!parts.ok()) return LineError(line_no, parts.status().message());
      auto& args = parts.value();
      if (args.size() < 2) return LineError(line_no, "missing chain");
      RestoreCommand cmd;
      cmd.line = line_no;
      const std::string& op = args[0];
      if (op == "-A" || op == "--append") {
        cmd.kind = RestoreCommand::Kind::kAppend;
      } else if (op == "-I" || op == "--insert") {
        cmd.kind = RestoreCommand::Kind::kInsert;
      } else if (op == "-D" || op == "--delete") {
        cmd.kind = RestoreCommand::Kind::kDeleteRule;
      } else if (op == "-N" || op == "--new-chain") {
        cmd.kind = RestoreCommand::Kind::kNewChain;
      } else if (op == "-F" || op == "--flush") {
        cmd.kind = RestoreCommand::Kind::kFlushChain;
      } else if (op == "-X" || op == "--delete-chain") {
        cmd.kind = RestoreCommand::Kind::kDeleteChain;
      } else {
        return LineError(line_no, "unsupported command " + op);
      }
      cmd.chain = args[1];
      cmd.args.assign(args.begin() + 2, args.end());
      const bool takes_rule = cmd.kind == RestoreCommand::Kind::kAppend ||
                              cmd.kind == RestoreCommand::Kind::kInsert ||
                              cmd.kind == RestoreCommand::Kind::kDeleteRule;
      if (!takes_rule && !cmd.args.empty()) return LineError(line_no, "unexpected arguments");
      tables.back().commands.push_back(std::move(cmd));
    }
    if (end == text.size()) break;
  }
  if (in_table) return Status::Error("restore input ends without COMMIT");
  return tables;
}

std::vector<std::string> RestoreText::ChainNames(std::string_view text, std::string_view table) {
  std::vector<std::string> out;
  bool in_table = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with('*')) {
      in_table = line.substr(1) == table;
    } else if (line == "COMMIT") {
      in_table = false;
    } else if (in_table && line.starts_with(':')) {
      const size_t sp = line.find(' ');
      out.emplace_back(
          line.substr(1, sp == std::string_view::npos ? std::string_view::npos : sp - 1));
    }
  }
  return out;
}

}  // namespace kpx
