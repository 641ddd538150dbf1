// NftClaimSet against a straightforward model (a map of keys to a plain count and an ordered map
// of owners to values, which is what the dataplane kept before): counts, the winning owner,
// contested keys, interned values, and the table's growth, shrinking and deletion on many keys.
#include "proxier/nftables/nft_claim_set.h"

#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstring>
#include <map>
#include <random>

namespace kpx {
namespace {

NftValue Data(uint32_t word) {
  NftValue v;
  v.data.assign(reinterpret_cast<const char*>(&word), 4);
  return v;
}
NftValue Goto(const std::string& chain) { return NftValue{"", true, NFT_GOTO, chain}; }
NftValue LongData(const std::string& bytes) { return NftValue{bytes, false, 0, ""}; }

ServicePortName Port(const std::string& name, const std::string& port = "") {
  return ServicePortName{"default", name, port, Protocol::kTCP};
}

TEST(NftClaimSetTest, PlainClaimsCountAndTheLastRemovalDropsTheKey) {
  NftClaimSet set;
  const ServicePortName a = Port("a"), b = Port("b");
  set.Add("k1", &a, NftValue{});
  set.Add("k1", &b, NftValue{});
  set.Add("k1", &a, NftValue{});  // an owner may list a key twice
  EXPECT_EQ(set.size(), 1u);
  ASSERT_TRUE(set.Effective("k1").has_value());
  EXPECT_EQ(*set.Effective("k1"), NftValue{});
  set.Remove("k1", &a, NftValue{});
  set.Remove("k1", &b, NftValue{});
  EXPECT_TRUE(set.Effective("k1").has_value());
  set.Remove("k1", &a, NftValue{});
  EXPECT_FALSE(set.Effective("k1").has_value());
  EXPECT_TRUE(set.empty());
  set.Remove("k1", &a, NftValue{});  // nothing left to remove: no-op
  EXPECT_TRUE(set.empty());
}

TEST(NftClaimSetTest, TheOwnerWhoseNameSortsFirstWinsAndTheNodeBeatsEveryService) {
  NftClaimSet set;
  const ServicePortName a = Port("a"), b = Port("b"), c = Port("c");
  set.Add("key", &b, Goto("chain-b"));
  EXPECT_EQ(*set.Effective("key"), Goto("chain-b"));
  set.Add("key", &c, Goto("chain-c"));
  EXPECT_EQ(*set.Effective("key"), Goto("chain-b"));
  set.Add("key", &a, Data(7));
  EXPECT_EQ(*set.Effective("key"), Data(7));
  set.Add("key", nullptr, Goto("node"));
  EXPECT_EQ(*set.Effective("key"), Goto("node"));
  set.Remove("key", nullptr, Goto("node"));
  set.Remove("key", &a, Data(7));
  EXPECT_EQ(*set.Effective("key"), Goto("chain-b"));
  set.Remove("key", &b, Goto("chain-b"));
  EXPECT_EQ(*set.Effective("key"), Goto("chain-c"));
  // An owner that holds no claim removes nothing.
  set.Remove("key", &a, Goto("chain-c"));
  EXPECT_EQ(*set.Effective("key"), Goto("chain-c"));
  set.Remove("key", &c, Goto("chain-c"));
  EXPECT_FALSE(set.Effective("key").has_value());
  EXPECT_TRUE(set.empty());
}

TEST(NftClaimSetTest, AnOwnerAddingAgainReplacesItsValue) {
  NftClaimSet set;
  const ServicePortName a = Port("a"), b = Port("b");
  set.Add("key", &a, Data(1));
  set.Add("key", &a, Data(2));
  EXPECT_EQ(*set.Effective("key"), Data(2));
  set.Add("key", &b, Data(3));
  set.Add("key", &a, Goto("x"));
  EXPECT_EQ(*set.Effective("key"), Goto("x"));
  set.Remove("key", &a, Goto("x"));
  EXPECT_EQ(*set.Effective("key"), Data(3));
}

TEST(NftClaimSetTest, PortsWithTheSameNameTextAreStillTwoOwners) {
  // ToString leaves out the protocol: both must keep their own claim.
  NftClaimSet set;
  ServicePortName tcp = Port("dns"), udp = Port("dns");
  udp.protocol = Protocol::kUDP;
  set.Add("key", &tcp, Data(1));
  set.Add("key", &udp, Data(2));
  EXPECT_EQ(*set.Effective("key"), Data(1));
  set.Remove("key", &tcp, Data(1));
  EXPECT_EQ(*set.Effective("key"), Data(2));
}

TEST(NftClaimSetTest, PlainAndValuedClaimsOnOneKeyAreIndependent) {
  NftClaimSet set;
  const ServicePortName a = Port("a");
  set.Add("key", &a, NftValue{});
  set.Add("key", &a, Goto("x"));
  EXPECT_EQ(*set.Effective("key"), Goto("x"));
  set.Remove("key", &a, Goto("x"));
  ASSERT_TRUE(set.Effective("key").has_value());
  EXPECT_EQ(*set.Effective("key"), NftValue{});
  set.Remove("key", &a, NftValue{});
  EXPECT_TRUE(set.empty());
}

TEST(NftClaimSetTest, KeysOfDifferentLengthsKeepTheirBytes) {
  NftClaimSet set;
  const std::string short_key("\x01\x02", 2), zero_key("\x01\x02\x00\x00", 4);
  const std::string long_key(80, '\x7f');
  set.Add(short_key, nullptr, Data(1));
  set.Add(long_key, nullptr, Data(2));
  set.Add(zero_key, nullptr, Data(3));  // a prefix of another key padded with zeros
  EXPECT_EQ(set.size(), 3u);
  EXPECT_EQ(*set.Effective(short_key), Data(1));
  EXPECT_EQ(*set.Effective(long_key), Data(2));
  EXPECT_EQ(*set.Effective(zero_key), Data(3));
  std::map<std::string, NftValue> seen;
  set.ForEach([&](std::string_view k, const NftValue& v) { seen.emplace(std::string(k), v); });
  EXPECT_EQ(seen, (std::map<std::string, NftValue>{
                      {short_key, Data(1)}, {zero_key, Data(3)}, {long_key, Data(2)}}));
}

// The model: what the dataplane kept per key before this class.
struct ModelClaims {
  uint32_t plain = 0;
  std::map<std::string, NftValue> by_owner;  // by name text; "" is the node
};

TEST(NftClaimSetTest, RandomClaimsMatchTheModel) {
  std::mt19937 rng(4242);
  auto pick = [&](uint32_t n) { return rng() % n; };
  std::vector<ServicePortName> owners;
  for (int i = 0; i < 12; ++i) owners.push_back(Port("svc" + std::to_string(i)));
  const std::vector<NftValue> values = {Data(2),
                                        Data(4),
                                        Goto("internal"),
                                        Goto("external"),
                                        LongData("abcdef"),
                                        NftValue{"", true, NF_DROP, ""}};
  NftClaimSet set;
  std::map<std::string, ModelClaims> model;
  // Each owner's claims, so removals undo real adds as the dataplane's do.
  std::vector<std::tuple<std::string, int, NftValue>> live;
  for (int step = 0; step < 60000; ++step) {
    if (live.empty() || pick(100) < 55) {
      const int o = static_cast<int>(pick(static_cast<uint32_t>(owners.size() + 1))) - 1;
      std::string key(8, '\0');
      const uint32_t k = pick(3000);
      std::memcpy(key.data(), &k, 4);
      NftValue v = pick(3) == 0 ? NftValue{} : values[pick(static_cast<uint32_t>(values.size()))];
      // One value per (owner, key) at a time, as an owner's element list has.
      bool clash = false;
      for (const auto& [lk, lo, lv] : live) clash = clash || (lk == key && lo == o && lv != v);
      if (clash) continue;
      const NftClaimSet::Owner owner = o < 0 ? nullptr : &owners[static_cast<size_t>(o)];
      set.Add(key, owner, v);
      auto& m = model[key];
      if (v == NftValue{}) {
        ++m.plain;
      } else {
        m.by_owner[o < 0 ? "" : owners[static_cast<size_t>(o)].ToString()] = v;
      }
      live.emplace_back(key, o, v);
    } else {
      const size_t i = pick(static_cast<uint32_t>(live.size()));
      // Plain copies, not structured bindings: clang before 16 cannot capture those in the
      // lambda below.
      const std::string key = std::get<0>(live[i]);
      const int o = std::get<1>(live[i]);
      const NftValue v = std::get<2>(live[i]);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
      // The model forgets an owner's value at its first removal; so must the set: only remove
      // valued claims the owner holds once.
      const NftClaimSet::Owner owner = o < 0 ? nullptr : &owners[static_cast<size_t>(o)];
      set.Remove(key, owner, v);
      auto& m = model[key];
      if (v == NftValue{}) {
        if (m.plain > 0) --m.plain;
      } else {
        m.by_owner.erase(o < 0 ? "" : owners[static_cast<size_t>(o)].ToString());
        // Drop the owner's other copies of this claim from `live` too.
        std::erase_if(live, [&](const auto& t) {
          return std::get<0>(t) == key && std::get<1>(t) == o && std::get<2>(t) == v;
        });
      }
      if (m.plain == 0 && m.by_owner.empty()) model.erase(key);
    }
    if (step % 5003 == 0) set.Compact();
    if (step % 997 == 0 || step == 59999) {
      ASSERT_EQ(set.size(), model.size()) << "step " << step;
      std::map<std::string, NftValue> got;
      set.ForEach([&](std::string_view k, const NftValue& v) { got.emplace(std::string(k), v); });
      ASSERT_EQ(got.size(), model.size()) << "step " << step;
      for (const auto& [key, m] : model) {
        const NftValue want = m.by_owner.empty() ? NftValue{} : m.by_owner.begin()->second;
        ASSERT_EQ(got[key], want) << "step " << step;
        ASSERT_EQ(set.Effective(key), want) << "step " << step;
      }
    }
  }
}

TEST(NftClaimSetTest, GrowsAndShrinksWithItsKeys) {
  // 100 000 hairpin pairs (8-byte IPv4 keys): a compact table, and its memory goes back once
  // the keys are gone.
  NftClaimSet set;
  const ServicePortName owner = Port("a");
  auto key = [](uint32_t i) {
    std::string k(8, '\0');
    std::memcpy(k.data(), &i, 4);
    std::memcpy(k.data() + 4, &i, 4);
    return k;
  };
  constexpr uint32_t kKeys = 100000;
  for (uint32_t i = 0; i < kKeys; ++i) set.Add(key(i), &owner, NftValue{});
  EXPECT_EQ(set.size(), kKeys);
  // 8 bytes of key, 2 of length, 4 of count, at most 2 index words (and vector slack).
  EXPECT_LT(set.HeapBytes(), kKeys * 40);
  // As a full sync leaves it: 14 bytes and 1.5 index words per key, an eighth of room.
  const size_t grown = set.HeapBytes();
  set.Compact();
  EXPECT_LT(set.HeapBytes(), kKeys * 24);
  EXPECT_LT(set.HeapBytes(), grown);
  for (uint32_t i = 0; i < kKeys; i += 7) ASSERT_TRUE(set.Effective(key(i)).has_value()) << i;
  set.Add(key(kKeys), &owner, NftValue{});  // and it grows again from there
  EXPECT_EQ(set.size(), kKeys + 1);
  set.Remove(key(kKeys), &owner, NftValue{});
  for (uint32_t i = 0; i < kKeys; i += 2) set.Remove(key(i), &owner, NftValue{});
  for (uint32_t i = 0; i < kKeys; ++i) {
    ASSERT_EQ(set.Effective(key(i)).has_value(), i % 2 == 1) << i;
  }
  for (uint32_t i = 1; i < kKeys; i += 2) set.Remove(key(i), &owner, NftValue{});
  EXPECT_TRUE(set.empty());
  EXPECT_LT(set.HeapBytes(), 4096u);
}

TEST(NftClaimSetTest, InternedValuesAreReleasedWithTheirLastClaim) {
  NftClaimSet set;
  const ServicePortName a = Port("a");
  // Many distinct values that do not fit a word, claimed and released again and again: the
  // interned copies are reused, not accumulated.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1000; ++i)
      set.Add("k" + std::to_string(i), &a, Goto("c" + std::to_string(i)));
    for (int i = 0; i < 1000; ++i) {
      ASSERT_EQ(*set.Effective("k" + std::to_string(i)), Goto("c" + std::to_string(i)));
    }
    for (int i = 0; i < 1000; ++i)
      set.Remove("k" + std::to_string(i), &a, Goto("c" + std::to_string(i)));
    EXPECT_TRUE(set.empty());
  }
  const size_t after_three = set.HeapBytes();
  for (int i = 0; i < 1000; ++i)
    set.Add("k" + std::to_string(i), &a, Goto("c" + std::to_string(i)));
  for (int i = 0; i < 1000; ++i)
    set.Remove("k" + std::to_string(i), &a, Goto("c" + std::to_string(i)));
  EXPECT_EQ(set.HeapBytes(), after_three);
}

}  // namespace
}  // namespace kpx
