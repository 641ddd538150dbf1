#include "proxier/core/endpoint_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <type_traits>
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
  for (const EndpointList::Ref& e : l) out.push_back(e->ip.ToString());
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
  EXPECT_TRUE(a.front().SameEntry(b.front()));  // the same elements, not equal ones
  EXPECT_EQ(b.back()->ip, Ip("10.0.0.2"));
}

TEST(EndpointListTest, FilterKeepingEverythingIsTheListItself) {
  const EndpointList a = List({"10.0.0.1", "10.0.0.2"});
  EXPECT_TRUE(a.Filter([](const EndpointInfo& e) { return e.ready; }).SharesWith(a));
  EXPECT_TRUE(a.Filter([](const EndpointInfo&) { return false; }).empty());
}

TEST(EndpointListTest, ASubsetPointsIntoItsSourceAndKeepsItAlive) {
  EndpointList subset;
  uintptr_t second = 0;
  {
    const EndpointList a = List({"10.0.0.1", "10.0.0.2", "10.0.0.3"});
    second = a[1].slot();
    subset = a.Filter([](const EndpointInfo& e) { return e.ip != Ip("10.0.0.1"); });
    EXPECT_FALSE(subset.SharesWith(a));
  }
  // `a` is gone; its block is not (ASan would report a use after free here).
  ASSERT_EQ(Ips(subset), (Strings{"10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(subset[0].slot(), second);
  // A subset of a subset points at the first list's elements too.
  const EndpointList last =
      subset.Filter([](const EndpointInfo& e) { return e.ip == Ip("10.0.0.3"); });
  EXPECT_TRUE(last[0].SameEntry(subset[1]));
}

TEST(EndpointListTest, SortedByAddressReordersWithoutCopying) {
  const EndpointList sorted = List({"10.0.0.1", "10.0.0.2", "10.0.0.10"});
  EXPECT_TRUE(sorted.SortedByAddress().SharesWith(sorted));

  const EndpointList unsorted = List({"10.0.0.10", "10.0.0.9"});
  const EndpointList reordered = unsorted.SortedByAddress();
  EXPECT_EQ(Ips(reordered), (Strings{"10.0.0.9", "10.0.0.10"}));
  EXPECT_TRUE(reordered[0].SameEntry(unsorted[1]));
  EXPECT_TRUE(reordered[1].SameEntry(unsorted[0]));
  EXPECT_EQ(Ips(unsorted), (Strings{"10.0.0.10", "10.0.0.9"}));  // a value: unchanged
}

TEST(EndpointListTest, BuilderMergesListsAndReturnsAWholeListAsItself) {
  const EndpointList a = List({"10.0.0.1", "10.0.0.2"});
  const EndpointList b = List({"10.0.0.3"}, false);

  EndpointList::Builder whole;
  for (const EndpointList::Ref& e : a) whole.Add(a, e);
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

TEST(EndpointListTest, EntriesReadBackExactlyAsGivenInEveryStorage) {
  // IPv4 on one port: packed (address and flags, hint numbers only when some endpoint has hints).
  // Several ports or any IPv6: EndpointInfos. Each must read back every field, including the
  // flags the packed form squeezes into a byte, for every count (the hint numbers' offset
  // depends on it).
  auto endpoint = [](const char* ip, uint16_t port, int flags, ZoneHints hints) {
    EndpointInfo e;
    e.ip = Ip(ip);
    e.port = port;
    e.ready = (flags & 1) != 0;
    e.serving = (flags & 2) != 0;
    e.terminating = (flags & 4) != 0;
    e.is_local = (flags & 8) != 0;
    e.hint_zones = hints;
    return e;
  };
  const ZoneHints zones({"zone-a", "zone-b"});
  for (size_t n = 1; n <= 17; ++n) {
    std::vector<EndpointInfo> plain, hinted, ports;
    for (size_t i = 0; i < n; ++i) {
      const int flags = static_cast<int>(i % 16);
      const std::string ip = "255.254.253." + std::to_string(i);
      plain.push_back(endpoint(ip.c_str(), 65535, flags, ZoneHints()));
      hinted.push_back(endpoint(ip.c_str(), 1, flags, i % 2 == 0 ? zones : ZoneHints()));
      ports.push_back(endpoint(ip.c_str(), static_cast<uint16_t>(8000 + i % 2), flags, zones));
    }
    std::vector<EndpointInfo> mixed = plain;
    mixed.push_back(endpoint("fd00::1", 65535, 15, zones));
    for (const auto& given : {plain, hinted, ports, mixed}) {
      const EndpointList list(given);
      ASSERT_EQ(list.size(), given.size());
      for (size_t i = 0; i < given.size(); ++i) {
        EXPECT_EQ(*list[i], given[i]) << n << " " << i;
        EXPECT_EQ(list[i]->ip.family(), given[i].ip.family()) << i;
      }
      // A list drawn from it reads the same entries.
      const EndpointList odd =
          list.Filter([](const EndpointInfo& e) { return e.ip.bytes()[3] % 2 == 1; });
      ASSERT_EQ(odd.size(), static_cast<size_t>(std::count_if(
                                given.begin(), given.end(),
                                [](const EndpointInfo& e) { return e.ip.bytes()[3] % 2 == 1; })));
      for (const EndpointList::Ref& e : odd) EXPECT_EQ(e->ip.bytes()[3] % 2, 1);
      for (size_t i = 0; i < odd.size(); ++i) {
        const size_t at = static_cast<size_t>(odd[i]->ip.bytes()[3]);
        if (odd[i]->ip.family() == IpFamily::kIPv4) {
          EXPECT_EQ(*odd[i], given[at]);
        }
      }
    }
  }
}

TEST(EndpointListTest, ADereferencedTemporaryIsACopyThatOutlivesIt) {
  const EndpointList a = List({"10.0.0.1", "10.0.0.2"});
  // operator[] returns a Ref by value; binding its endpoint must not dangle (ASan checks).
  const EndpointInfo& second = *a[1];
  EXPECT_EQ(second.ip, Ip("10.0.0.2"));
  // And a temporary Ref does not convert to a reference at all (it would dangle), while a named
  // one does.
  static_assert(!std::is_convertible_v<EndpointList::Ref, const EndpointInfo&>);
  static_assert(std::is_convertible_v<const EndpointList::Ref&, const EndpointInfo&>);
}

TEST(EndpointListTest, MergesAcrossPackedAndWideBlocks) {
  const EndpointList v4 = List({"10.0.0.1"});
  std::vector<EndpointInfo> wide(1);
  wide[0].ip = Ip("fd00::1");
  wide[0].port = 443;
  const EndpointList v6(wide);
  EndpointList::Builder b;
  b.Add(v6, v6[0]);
  b.Add(v4, v4[0]);
  const EndpointList m = std::move(b).Build();
  EXPECT_EQ(Ips(m), (Strings{"fd00::1", "10.0.0.1"}));
  EXPECT_EQ(m[0]->port, 443);
  EXPECT_TRUE(m[1].SameEntry(v4[0]));
  EXPECT_EQ(Ips(m.SortedByAddress()), (Strings{"10.0.0.1", "fd00::1"}));
}

}  // namespace
}  // namespace kpx
