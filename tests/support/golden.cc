#include "tests/support/golden.h"

#include <stdexcept>
#include <utility>
#include <vector>

namespace kpx::testing {

namespace {

struct Table {
  std::string header;  // "*nat"
  std::vector<std::string> declarations;
  std::vector<std::string> rules;
};

// The chain a ":CHAIN - [0:0]" declaration or "-A CHAIN ..." rule is about.
std::string ChainOf(const std::string& line) {
  const size_t start = line[0] == ':' ? 1 : 3;
  const size_t end = line.find(' ', start);
  return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::vector<Table> ParseTables(std::string_view text, std::string_view what) {
  std::vector<Table> tables;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string line(text.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line == "COMMIT") continue;
    if (line[0] == '*') {
      tables.push_back({line, {}, {}});
      continue;
    }
    if (tables.empty()) {
      throw std::invalid_argument(std::string(what) + ": line before any table: " + line);
    }
    if (line[0] == ':') {
      tables.back().declarations.push_back(line);
    } else if (line.rfind("-A ", 0) == 0) {
      tables.back().rules.push_back(line);
    } else {
      throw std::invalid_argument(std::string(what) + ": neither declaration nor rule: " + line);
    }
  }
  return tables;
}

}  // namespace

std::string ExpandGolden(std::string_view skeleton, std::string_view own) {
  const std::vector<Table> base = ParseTables(skeleton, "skeleton");
  std::vector<Table> extra = ParseTables(own, "golden case");
  std::string out;
  for (const Table& table : base) {
    Table mine{table.header, {}, {}};
    for (Table& e : extra) {
      if (e.header != table.header) continue;
      mine.declarations.insert(mine.declarations.end(), e.declarations.begin(),
                               e.declarations.end());
      mine.rules.insert(mine.rules.end(), e.rules.begin(), e.rules.end());
      e.header.clear();  // consumed
    }
    std::vector<std::string> declarations = table.declarations;
    declarations.insert(declarations.end(), mine.declarations.begin(), mine.declarations.end());
    out += table.header + "\n";
    for (const std::string& d : declarations) out += d + "\n";
    size_t placed = 0;
    for (const std::string& d : declarations) {
      const std::string chain = ChainOf(d);
      for (const std::vector<std::string>* rules : {&std::as_const(mine.rules), &table.rules}) {
        for (const std::string& r : *rules) {
          if (ChainOf(r) != chain) continue;
          out += r + "\n";
          ++placed;
        }
      }
    }
    if (placed != mine.rules.size() + table.rules.size()) {
      throw std::invalid_argument("golden: a rule of " + table.header +
                                  " names an undeclared chain");
    }
    out += "COMMIT\n";
  }
  for (const Table& e : extra) {
    if (!e.header.empty()) {
      throw std::invalid_argument("golden case: table " + e.header + " is not in the skeleton");
    }
  }
  return out;
}

}  // namespace kpx::testing
