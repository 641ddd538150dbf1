#include "k8s-watch/manifest/kept_record_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "k8s-watch/objects/kept_service.h"
#include "k8s-watch/objects/kept_slice.h"
#include "k8s-watch/objects/node.h"
#include "tests/support/api_objects.h"

namespace kpx {
namespace {

using testing::MakeEndpoint;
using testing::MakeNode;
using testing::MakeService;
using testing::MakeSlice;

KeptService Svc(const std::string& name, const std::string& rv = "1") {
  return KeptService(MakeService("ns", name, [&](Service& s) { s.meta.resource_version = rv; }));
}

TEST(KeptRecordTableTest, KeepsTheKeptObjectFileAndFlags) {
  using Table = KeptRecordTable<KeptService>;
  Table t;
  EXPECT_EQ(t.Find("ns/web"), Table::kNone);
  const KeptService web = Svc("web");
  const Table::Handle h = t.Insert(web.Key(), web, InternedString("a.yaml"));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Find("ns/web"), h);
  EXPECT_EQ(t.Find("ns/api"), Table::kNone);
  EXPECT_EQ(t.Key(h), "ns/web");
  EXPECT_EQ(t.kept(h), web);
  EXPECT_TRUE(t.Holds(h, web));
  EXPECT_FALSE(t.Holds(h, Svc("web", "2")));
  EXPECT_EQ(t.file(h), InternedString("a.yaml"));
  for (Table::Flag f : {Table::kDelivered, Table::kFileDelivered, Table::kMore}) {
    EXPECT_FALSE(t.flag(h, f));
  }
  t.set_flag(h, Table::kDelivered, true);
  t.set_flag(h, Table::kMore, true);
  EXPECT_TRUE(t.flag(h, Table::kDelivered));
  EXPECT_FALSE(t.flag(h, Table::kFileDelivered));
  EXPECT_TRUE(t.flag(h, Table::kMore));
  t.set_flag(h, Table::kMore, false);
  EXPECT_FALSE(t.flag(h, Table::kMore));
  EXPECT_TRUE(t.flag(h, Table::kDelivered));
  t.set_file(h, InternedString());
  EXPECT_TRUE(t.file(h).empty());
}

// A new version of another size moves the record's block; its handle, file and flags stay.
TEST(KeptRecordTableTest, SetKeptInPlaceOrMovedKeepsHandleFileAndFlags) {
  using Table = KeptRecordTable<KeptService>;
  Table t;
  const Table::Handle other = t.Insert("ns/api", Svc("api"), InternedString("b.yaml"));
  const Table::Handle h = t.Insert("ns/web", Svc("web", "1"), InternedString("a.yaml"));
  t.set_flag(h, Table::kDelivered, true);
  t.set_flag(h, Table::kFileDelivered, true);
  for (const std::string rv : {"2", "12345678901234567890", "3", ""}) {
    const KeptService next = Svc("web", rv);
    t.SetKept(h, next);
    EXPECT_EQ(t.kept(h), next) << rv;
    EXPECT_TRUE(t.Holds(h, next));
    EXPECT_EQ(t.kept(h).identity().meta.resource_version, rv);
    EXPECT_EQ(t.Find("ns/web"), h);
    EXPECT_EQ(t.file(h), InternedString("a.yaml"));
    EXPECT_TRUE(t.flag(h, Table::kDelivered));
    EXPECT_TRUE(t.flag(h, Table::kFileDelivered));
    EXPECT_FALSE(t.flag(h, Table::kMore));
  }
  EXPECT_EQ(t.kept(other), Svc("api"));
}

TEST(KeptRecordTableTest, SlicesKeepTheirServiceNameAndAddressType) {
  KeptRecordTable<KeptSlice> t;
  const KeptSlice slice(MakeSlice("ns", "web", "web-x1", {MakeEndpoint("fd00::1", "n1")},
                                  [](EndpointSlice& s) { s.address_type = IpFamily::kIPv6; }));
  const auto h = t.Insert(slice.Key(), slice, InternedString("a.yaml"));
  EXPECT_EQ(t.Key(h), "ns/web-x1");
  const EndpointSlice named = t.kept(h).identity();
  EXPECT_EQ(named.service_name, "web");
  EXPECT_EQ(named.address_type, IpFamily::kIPv6);
  EXPECT_TRUE(t.Holds(h, slice));
}

// A default identity has no bytes; its record holds the equal identity of empty metadata.
TEST(KeptRecordTableTest, DefaultIdentity) {
  KeptRecordTable<KeptService> t;
  const KeptService empty(ObjectIdentity(), KeptService::Digest{});
  const auto h = t.Insert("", empty, InternedString());
  EXPECT_EQ(t.Find(""), h);
  EXPECT_TRUE(t.Holds(h, empty));
  EXPECT_EQ(t.kept(h), empty);
}

TEST(KeptRecordTableTest, WholeKindsKeepTheObject) {
  using Table = KeptRecordTable<Node>;
  Table t;
  Node node = MakeNode("node-1");
  const Table::Handle h = t.Insert("node-1", node, InternedString("node.yaml"));
  EXPECT_EQ(t.Key(h), "node-1");
  EXPECT_EQ(t.kept(h), node);
  node.meta.resource_version = "2";
  EXPECT_FALSE(t.Holds(h, node));
  t.SetKept(h, node);
  EXPECT_TRUE(t.Holds(h, node));
  EXPECT_EQ(t.Find("node-1"), h);
  t.Erase(h);
  EXPECT_EQ(t.Find("node-1"), Table::kNone);
  EXPECT_EQ(t.size(), 0u);
}

// Handles run past one chunk of blocks; each stays with its record.
TEST(KeptRecordTableTest, ManyRecordsAcrossChunks) {
  using Table = KeptRecordTable<KeptService>;
  Table t;
  std::vector<Table::Handle> handles;
  for (int i = 0; i < 2500; ++i) {
    const std::string name = "svc-" + std::to_string(i);
    handles.push_back(t.Insert("ns/" + name, Svc(name), InternedString()));
  }
  for (int i = 0; i < 2500; i += 3) t.Erase(handles[i]);
  for (int i = 0; i < 2500; ++i) {
    const std::string key = "ns/svc-" + std::to_string(i);
    if (i % 3 == 0) {
      EXPECT_EQ(t.Find(key), Table::kNone) << key;
    } else {
      ASSERT_EQ(t.Find(key), handles[i]) << key;
      EXPECT_EQ(t.Key(handles[i]), key);
    }
  }
  EXPECT_EQ(t.size(), 2500u - 834u);
}

// Erased handles are reused; the others keep theirs through the index's growth and shifts.
TEST(KeptRecordTableTest, AgreesWithAMapThroughChurn) {
  using Table = KeptRecordTable<KeptService>;
  Table t;
  std::map<std::string, std::pair<Table::Handle, std::string>> model;  // key -> handle, rv
  std::mt19937 rng(28);
  for (int step = 0; step < 6000; ++step) {
    const std::string name = "svc-" + std::to_string(rng() % 500);
    const std::string key = "ns/" + name;
    auto it = model.find(key);
    const int op = static_cast<int>(rng() % 3);
    if (it == model.end()) {
      const std::string rv = std::to_string(rng() % 1000);
      const Table::Handle h = t.Insert(key, Svc(name, rv), InternedString(name + ".yaml"));
      model.emplace(key, std::make_pair(h, rv));
    } else if (op == 0) {
      const std::string rv = std::to_string(rng() % 100000);
      t.SetKept(it->second.first, Svc(name, rv));
      it->second.second = rv;
    } else {
      const Table::Handle h = it->second.first;
      t.Erase(h);
      model.erase(it);
      // The next insert takes the freed handle.
      const Table::Handle again = t.Insert("ns/fresh", Svc("fresh"), InternedString());
      EXPECT_EQ(again, h);
      t.Erase(again);
    }
    if (step % 499 == 0) {
      ASSERT_EQ(t.size(), model.size());
      for (const auto& [k, held] : model) {
        ASSERT_EQ(t.Find(k), held.first) << k;
        ASSERT_EQ(t.Key(held.first), k);
        ASSERT_TRUE(t.Holds(held.first, Svc(k.substr(3), held.second)));
        ASSERT_EQ(t.file(held.first), InternedString(k.substr(3) + ".yaml"));
      }
    }
  }
}

}  // namespace
}  // namespace kpx
