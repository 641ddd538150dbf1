#include "proxier/netfilter/xt_encoded_piece.h"

#include <algorithm>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "proxier/netfilter/ipt_entry_encoder.h"
#include "proxier/netfilter/restore_text.h"

namespace kpx {

XtEncodedPiece XtEncodedPiece::Encode(IpFamily family, std::string_view text, XtRuleArena& arena) {
  // Reused by every piece a thread encodes: a full sync's 320 000 lines.
  thread_local std::vector<std::string_view> tokens;
  thread_local std::deque<std::string> unescaped;
  XtEncodedPiece out;
  out.rules = XtRules(&arena);
  size_t pos = 0;
  int line = 0;
  auto fail = [&] {
    out.rules.clear();
    return XtEncodedPiece();
  };
  while (pos < text.size()) {
    const std::string_view l = RestoreText::NextLine(text, pos);
    ++line;
    if (l.empty() || l[0] == '#') continue;
    tokens.clear();
    unescaped.clear();
    if (!RestoreText::SplitViews(l, tokens, unescaped).ok() || tokens.size() < 2 ||
        (tokens[0] != "-A" && tokens[0] != "--append")) {
      return fail();
    }
    if (out.first_rule == 0) {
      // Longer than x_tables takes: the plan reads the line and says so.
      const std::string_view name = tokens[1];
      if (name.empty() || name.size() > kMaxName) return fail();
      std::copy(name.begin(), name.end(), out.name_.begin());
      out.name_size_ = static_cast<uint8_t>(name.size());
      out.first_rule = line;
    } else if (tokens[1] != out.chain()) {
      return fail();
    }
    Status encoded;
    out.rules.AppendEncoded([&](std::vector<unsigned char>& o) {
      encoded = EncodeIptEntryInto(family, std::span<const std::string_view>(tokens).subspan(2), o);
      return encoded.ok();
    });
    if (!encoded.ok()) return fail();
  }
  if (out.first_rule == 0) return fail();  // no rule at all: read where it is
  out.lines = line;
  out.ok = true;
  return out;
}

}  // namespace kpx
