#include "proxier/core/endpoint_list.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;

EndpointList List(const std::vector<const char*>& ips, bool ready = true) {
  std::vector<EndpointInfo> out;
  for (const char* ip : ips) {
    EndpointInfo& e = out.emplace_back();
    e.ip = Ip(ip);
    e.port = 80;
    e.ready = ready;
  }
  return EndpointList(std::move(out));
}

std::vector<std::string> Ips(const EndpointList& l) {
  std::vector<std::string> out;
  for (const EndpointInfo* e : l) out.push_back(e->ip.ToString());
  return out;
}

using Strings = std::vector<std::string>;

TEST(EndpointListTest, EmptyListHasNoBlock) {
  const EndpointList empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.begin(), empty.end());
  EXPECT_TRUE(EndpointList(std::vector<EndpointInfo>{}).SharesWith(empty));
  EXPECT_TRUE(empty.SortedByAddress().empty());
}

TEST(EndpointListTest, CopiesShareTheBlock) {
  const EndpointList a = List({"10.0.0.1", "10.0.0.2"});
  const EndpointList b = a;
  EXPECT_TRUE(b.SharesWith(a));
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1]->ip, Ip("10.0.0.2"));
  EXPECT_EQ(a.front(), b.front());  // the same elements, not equal ones
  EXPECT_EQ(b.back()->ip, Ip("10.0.0.2"));
}

TEST(EndpointListTest, FilterKeepingEverythingIsTheListItself) {
  const EndpointList a = List({"10.0.0.1", "10.0.0.2"});
  EXPECT_TRUE(a.Filter([](const EndpointInfo& e) { return e.ready; }).SharesWith(a));
  EXPECT_TRUE(a.Filter([](const EndpointInfo&) { return false; }).empty());
}

TEST(EndpointListTest, ASubsetPointsIntoItsSourceAndKeepsItAlive) {
  EndpointList subset;
  const EndpointInfo* second = nullptr;
  {
    const EndpointList a = List({"10.0.0.1", "10.0.0.2", "10.0.0.3"});
    second = a[1];
    subset = a.Filter([](const EndpointInfo& e) { return e.ip != Ip("10.0.0.1"); });
    EXPECT_FALSE(subset.SharesWith(a));
  }
  // `a` is gone; its block is not (ASan would report a use after free here).
  ASSERT_EQ(Ips(subset), (Strings{"10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(subset[0], second);
  // A subset of a subset points at the first list's elements too.
  const EndpointList last =
      subset.Filter([](const EndpointInfo& e) { return e.ip == Ip("10.0.0.3"); });
  EXPECT_EQ(last[0], subset[1]);
}

TEST(EndpointListTest, SortedByAddressReordersWithoutCopying) {
  const EndpointList sorted = List({"10.0.0.1", "10.0.0.2", "10.0.0.10"});
  EXPECT_TRUE(sorted.SortedByAddress().SharesWith(sorted));

  const EndpointList unsorted = List({"10.0.0.10", "10.0.0.9"});
  const EndpointList reordered = unsorted.SortedByAddress();
  EXPECT_EQ(Ips(reordered), (Strings{"10.0.0.9", "10.0.0.10"}));
  EXPECT_EQ(reordered[0], unsorted[1]);
  EXPECT_EQ(reordered[1], unsorted[0]);
  EXPECT_EQ(Ips(unsorted), (Strings{"10.0.0.10", "10.0.0.9"}));  // a value: unchanged
}

TEST(EndpointListTest, BuilderMergesListsAndReturnsAWholeListAsItself) {
  const EndpointList a = List({"10.0.0.1", "10.0.0.2"});
  const EndpointList b = List({"10.0.0.3"}, false);

  EndpointList::Builder whole;
  for (const EndpointInfo* e : a) whole.Add(a, e);
  EXPECT_TRUE(std::move(whole).Build().SharesWith(a));

  EndpointList::Builder merged;
  merged.Add(a, a[0]);
  merged.Add(b, b[0]);
  merged.Set(0, a, a[1]);
  const EndpointList m = std::move(merged).Build();
  EXPECT_EQ(Ips(m), (Strings{"10.0.0.2", "10.0.0.3"}));
  EXPECT_FALSE(m[1]->ready);
  EXPECT_TRUE(EndpointList::Builder().Build().empty());
}

}  // namespace
}  // namespace kpx
