#include "proxier/nftables/nft_id_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace kpx {
namespace {

ServicePortName Port(const std::string& ns, const std::string& name, const std::string& port = "",
                     Protocol protocol = Protocol::kTCP) {
  return {ns, name, port, protocol};
}

TEST(NftIdIndexTest, FindsWhatWasInsertedByEveryField) {
  NftIdIndex ids;
  EXPECT_EQ(ids.Find(Port("ns", "web")).name, nullptr);
  EXPECT_EQ(ids.Erase(Port("ns", "web")), 0u);
  const ServicePortName* web = ids.Insert(Port("ns", "web", "http"), 8);
  ids.Insert(Port("ns", "web", "http", Protocol::kUDP), 16);
  ids.Insert(Port("ns", "web"), 24);
  ids.Insert(Port("other", "web", "http"), 32);
  EXPECT_EQ(ids.size(), 4u);
  const NftIdIndex::Found found = ids.Find(Port("ns", "web", "http"));
  EXPECT_EQ(found.name, web);
  EXPECT_EQ(*found.name, Port("ns", "web", "http"));
  EXPECT_EQ(found.id, 8u);
  EXPECT_EQ(ids.Find(Port("ns", "web", "http", Protocol::kUDP)).id, 16u);
  EXPECT_EQ(ids.Find(Port("ns", "web")).id, 24u);
  EXPECT_EQ(ids.Find(Port("other", "web", "http")).id, 32u);
  EXPECT_FALSE(ids.contains(Port("ns", "api", "http")));
  EXPECT_FALSE(ids.contains(Port("ns", "web", "dns")));

  EXPECT_EQ(ids.Erase(Port("ns", "web")), 24u);
  EXPECT_EQ(ids.Erase(Port("ns", "web")), 0u);
  EXPECT_FALSE(ids.contains(Port("ns", "web")));
  EXPECT_EQ(ids.size(), 3u);
  // Erasing one name leaves the others (and their addresses) as they were.
  EXPECT_EQ(ids.Find(Port("ns", "web", "http")).name, web);
}

// Owners are the stored names' addresses: they must not move while the index grows, and a
// freed slot is reused for the next name.
TEST(NftIdIndexTest, StoredNamesStayPutAndFreedSlotsAreReused) {
  NftIdIndex ids;
  std::vector<const ServicePortName*> stored;
  const uint32_t n = 3 * NftIdIndex::kChunk + 7;
  for (uint32_t i = 0; i < n; ++i) {
    stored.push_back(ids.Insert(Port("ns", "svc-" + std::to_string(i)), (i + 1) * 8));
  }
  for (uint32_t i = 0; i < n; ++i) {
    const NftIdIndex::Found f = ids.Find(Port("ns", "svc-" + std::to_string(i)));
    ASSERT_EQ(f.name, stored[i]) << i;
    EXPECT_EQ(f.id, (i + 1) * 8);
  }
  EXPECT_EQ(ids.Erase(Port("ns", "svc-5")), 48u);
  const ServicePortName* reused = ids.Insert(Port("ns", "new"), 48);
  EXPECT_EQ(reused, stored[5]);
  EXPECT_EQ(*reused, Port("ns", "new"));
  EXPECT_FALSE(ids.contains(Port("ns", "svc-5")));
  EXPECT_EQ(ids.size(), n);
}

TEST(NftIdIndexTest, EraseIfVisitsEveryEntryOnceAndForgetsThoseItSays) {
  NftIdIndex ids;
  for (uint32_t i = 0; i < 100; ++i) ids.Insert(Port("ns", "svc-" + std::to_string(i)), 8 * i + 8);
  ids.Erase(Port("ns", "svc-3"));
  std::map<uint32_t, std::string> seen;
  ids.EraseIf([&](const ServicePortName& name, uint32_t id) {
    EXPECT_TRUE(seen.emplace(id, name.name.str()).second);
    return id % 16 == 0;  // the odd i
  });
  EXPECT_EQ(seen.size(), 99u);
  EXPECT_EQ(ids.size(), 50u);
  for (uint32_t i = 0; i < 100; ++i) {
    EXPECT_EQ(ids.contains(Port("ns", "svc-" + std::to_string(i))), i % 2 == 0 && i != 3) << i;
  }
  ids.EraseIf([](const ServicePortName&, uint32_t) { return true; });
  EXPECT_EQ(ids.size(), 0u);
  EXPECT_FALSE(ids.contains(Port("ns", "svc-0")));
  ids.Insert(Port("ns", "svc-0"), 8);
  EXPECT_EQ(ids.Find(Port("ns", "svc-0")).id, 8u);
}

// Random inserts and erases against a std::map: the probe runs stay intact through the
// backward-shift deletions and the growths.
TEST(NftIdIndexTest, AgreesWithAMapThroughChurn) {
  NftIdIndex ids;
  std::map<ServicePortName, std::pair<uint32_t, const ServicePortName*>> model;
  std::mt19937 rng(15);
  uint32_t next = 8;
  for (int step = 0; step < 20000; ++step) {
    const ServicePortName name =
        Port("ns" + std::to_string(rng() % 3), "svc-" + std::to_string(rng() % 700),
             rng() % 2 ? "http" : "", rng() % 4 ? Protocol::kTCP : Protocol::kUDP);
    auto it = model.find(name);
    if (it == model.end()) {
      const ServicePortName* stored = ids.Insert(name, next);
      model.emplace(name, std::make_pair(next, stored));
      next += 8;
    } else {
      ASSERT_EQ(ids.Erase(name), it->second.first);
      model.erase(it);
    }
    if (step % 997 == 0) {
      ASSERT_EQ(ids.size(), model.size());
      for (const auto& [n, held] : model) {
        const NftIdIndex::Found f = ids.Find(n);
        ASSERT_EQ(f.id, held.first);
        ASSERT_EQ(f.name, held.second);
      }
    }
  }
}

}  // namespace
}  // namespace kpx
