#include "proxier/netfilter/restore_text.h"

#include <cstdlib>
#include <functional>

#include "proxier/netfilter/restore_reader.h"

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

}  // namespace

std::string_view RestoreText::NextLine(std::string_view text, size_t& pos) {
  size_t end = text.find('\n', pos);
  if (end == std::string_view::npos) end = text.size();
  std::string_view line = text.substr(pos, end - pos);
  pos = end + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

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

Result<std::vector<RestoreTable>> RestoreText::Parse(std::string_view text, int first_line) {
  std::vector<RestoreTable> tables;
  // Per command of the open section: where its arguments start in the section's tokens (the
  // spans are set at COMMIT, once the tokens stop moving).
  std::vector<uint32_t> first_arg;
  // A view of the text stays one; an escaped argument (the reader's until its next line) is
  // copied into the table.
  auto keep = [text](RestoreTable& t, std::string_view v) -> std::string_view {
    const std::less<const char*> before;
    if (v.empty() || (!before(v.data(), text.data()) &&
                      !before(text.data() + text.size(), v.data() + v.size()))) {
      return v;
    }
    return t.unescaped.emplace_back(v);
  };
  RestoreReader reader(text, first_line);
  for (;;) {
    auto more = reader.Next();
    if (!more.ok()) return more.status();
    if (!*more) break;
    switch (reader.kind()) {
      case RestoreReader::Kind::kTable:
        tables.emplace_back().name = std::string(reader.table());
        first_arg.clear();
        break;
      case RestoreReader::Kind::kChain: {
        RestoreTable& t = tables.back();
        RestoreChainDecl d = reader.chain();
        d.name = keep(t, d.name);
        d.policy = keep(t, d.policy);
        t.chains.push_back(d);
        break;
      }
      case RestoreReader::Kind::kCommand: {
        RestoreTable& t = tables.back();
        RestoreCommand c = reader.command();
        c.chain = keep(t, c.chain);
        first_arg.push_back(static_cast<uint32_t>(t.tokens.size()));
        for (std::string_view a : c.args) t.tokens.push_back(keep(t, a));
        c.args = {};
        t.commands.push_back(c);
        break;
      }
      case RestoreReader::Kind::kCommit: {
        RestoreTable& t = tables.back();
        first_arg.push_back(static_cast<uint32_t>(t.tokens.size()));
        for (size_t c = 0; c < t.commands.size(); ++c) {
          t.commands[c].args = std::span<const std::string_view>(t.tokens.data() + first_arg[c],
                                                                 first_arg[c + 1] - first_arg[c]);
        }
        break;
      }
    }
  }
  return tables;
}

std::vector<std::string> RestoreText::ChainNames(std::string_view text, std::string_view table) {
  std::vector<std::string> out;
  bool in_table = false;
  size_t pos = 0;
  while (pos < text.size()) {
    // NextLine drops a '\r' before the '\n', as the parser does: a saved text with CRLF line
    // ends names the same chains.
    const std::string_view line = NextLine(text, pos);
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
