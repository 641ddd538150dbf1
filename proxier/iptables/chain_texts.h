#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "base/text_arena.h"

namespace kpx {

// Where one sync's rendered owned chains wait until they are written. A full write lists the
// chains by name (as the x_tables table keeps them), not in the order they were rendered (by
// service), so one arena could be freed only once the whole text was built: 32 MB of rendered
// text and the 32 MB text made of it, resident together at 10 000 x 10. Here the texts are
// grouped by the first kGroup bytes of their chains' names, one arena per group: names that
// share those bytes come one after another in name order, so a writer going by name frees each
// group as it leaves it (a hash character after "KUBE-SEP-": 32 groups per kind of chain).
class ChainTexts {
 public:
  // Whether texts are grouped by name (the default). A writer that frees nothing before it is
  // done with all of them (the libiptc runner reading them in place) wants one group: each
  // group's last, partly used block costs up to a huge page of memory.
  // A partial sync's few texts want one group too: a group per chain changed made each sync map
  // and fault in a block per group (~2 ms of a one-endpoint sync with the exec runners).
  void SetGrouped(bool grouped) { grouped_ = grouped; }
  // A copy of `text`, the rules of chain `chain`, valid until its group is released.
  std::string_view Add(std::string_view chain, std::string_view text);
  // For a writer going through chains in name order, as it starts on `chain`: frees the groups
  // of the chains before it (nothing when ungrouped). A text of such a chain must not be used
  // after.
  void ReleaseBefore(std::string_view chain);
  void Clear();
  size_t bytes() const;

 private:
  static constexpr size_t kGroup = 10;
  std::map<std::string, TextArena, std::less<>> groups_;
  bool grouped_ = true;
};

}  // namespace kpx
