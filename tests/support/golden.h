#pragma once

#include <string>
#include <string_view>

namespace kpx::testing {

// Golden iptables-restore texts without the repetition. A golden case states only its own lines
// (per table: its chain declarations and rules); ExpandGolden merges them into `skeleton`, the
// lines every render of a suite shares, and returns the whole text the renderer must produce, to
// compare with EXPECT_EQ: the assertion stays on the full text, so any change to the renderer's
// output, the skeleton's lines included, still fails the case.
//
// Merge: per table of the skeleton, its declarations, then the case's; then the rules grouped by
// chain in declaration order, within a chain the case's rules before the skeleton's (the
// skeleton's rules there are the ones that must stay last, e.g. KUBE-SERVICES' jump to
// KUBE-NODEPORTS); then COMMIT. A case whose lines cannot be placed this way (a table the skeleton
// lacks, a rule of an undeclared chain, a line that is neither) throws std::invalid_argument,
// which fails the test: nothing is dropped silently.
std::string ExpandGolden(std::string_view skeleton, std::string_view own);

}  // namespace kpx::testing
