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

Status RestoreText::SplitViews(std::string_view line, std::vector<std::string_view>& out,
                               std::deque<std::string>& unescaped) {
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    if (line[i] != '"') {
      const size_t from = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      out.push_back(line.substr(from, i - from));
      continue;
    }
    const size_t from = ++i;
    std::string* token = nullptr;  // only once an escape is seen
    bool closed = false;
    while (i < line.size()) {
      const char c = line[i++];
      if (c == '\\' && i < line.size()) {
        if (token == nullptr) token = &unescaped.emplace_back(line.substr(from, i - 1 - from));
        token->push_back(line[i++]);
      } else if (c == '"') {
        closed = true;
        break;
      } else if (token != nullptr) {
        token->push_back(c);
      }
    }
    if (!closed) return Status::Error("unterminated quote");
    if (i < line.size() && line[i] != ' ' && line[i] != '\t') {
      return Status::Error("garbage after closing quote");
    }
    out.push_back(token != nullptr ? std::string_view(*token) : line.substr(from, i - 1 - from));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> RestoreText::Split(std::string_view line) {
  std::vector<std::string_view> views;
  std::deque<std::string> unescaped;
  if (Status st = SplitViews(line, views, unescaped); !st.ok()) return st;
  return std::vector<std::string>(views.begin(), views.end());
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
  // Per command of the open section: where its arguments start in the section's tokens (the
  // spans are set at COMMIT, once the tokens stop moving).
  std::vector<uint32_t> first_arg;
  std::vector<std::string_view> parts;
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
      tables.emplace_back().name = std::string(line.substr(1));
      first_arg.clear();
      in_table = true;
    } else if (line == "COMMIT") {
      if (!in_table) return LineError(line_no, "COMMIT outside a table");
      RestoreTable& t = tables.back();
      first_arg.push_back(static_cast<uint32_t>(t.tokens.size()));
      for (size_t c = 0; c < t.commands.size(); ++c) {
        t.commands[c].args = std::span<const std::string_view>(t.tokens.data() + first_arg[c],
                                                               first_arg[c + 1] - first_arg[c]);
      }
      in_table = false;
    } else if (!in_table) {
      return LineError(line_no, "command outside a table");
    } else if (line[0] == ':') {
      parts.clear();
      Status st = SplitViews(line.substr(1), parts, tables.back().unescaped);
      if (!st.ok() || parts.size() < 2) return LineError(line_no, "bad chain line");
      const std::string_view name = parts[0];
      if (name.empty() || name.size() > 28) return LineError(line_no, "bad chain name");
      tables.back().chains.push_back({name, parts[1], line_no});
    } else {
      RestoreTable& t = tables.back();
      const size_t from = t.tokens.size();
      if (Status st = SplitViews(line, t.tokens, t.unescaped); !st.ok()) {
        return LineError(line_no, st.message());
      }
      if (t.tokens.size() - from < 2) return LineError(line_no, "missing chain");
      RestoreCommand cmd;
      cmd.line = line_no;
      const std::string_view op = t.tokens[from];
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
        return LineError(line_no, "unsupported command " + std::string(op));
      }
      cmd.chain = t.tokens[from + 1];
      // The operator and the chain are not arguments: the rule's own start where they were.
      t.tokens.erase(t.tokens.begin() + static_cast<std::ptrdiff_t>(from),
                     t.tokens.begin() + static_cast<std::ptrdiff_t>(from) + 2);
      const bool takes_rule = cmd.kind == RestoreCommand::Kind::kAppend ||
                              cmd.kind == RestoreCommand::Kind::kInsert ||
                              cmd.kind == RestoreCommand::Kind::kDeleteRule;
      if (!takes_rule && t.tokens.size() != from) {
        return LineError(line_no, "unexpected arguments");
      }
      first_arg.push_back(static_cast<uint32_t>(from));
      t.commands.push_back(cmd);
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
