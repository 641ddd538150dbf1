#include "k8s-watch/objects/object_identity.h"

#include <gtest/gtest.h>

#include <string>

#include "k8s-watch/objects/kept_service.h"
#include "k8s-watch/objects/kept_slice.h"

namespace kpx {
namespace {

ObjectMeta Meta(std::string ns, std::string name, std::string uid, std::string rv) {
  ObjectMeta m;
  m.namespace_ = std::move(ns);
  m.name = std::move(name);
  m.uid = std::move(uid);
  m.resource_version = std::move(rv);
  return m;
}

void ExpectRoundTrip(const ObjectMeta& m, std::string_view extra = {}) {
  const ObjectIdentity id = ObjectIdentity::Of(m, extra);
  EXPECT_EQ(id.Meta(), m);
  EXPECT_EQ(id.Key(), m.Key());
  EXPECT_EQ(id.name(), m.name);
  EXPECT_EQ(id.namespace_(), m.namespace_);
  EXPECT_EQ(id.uid(), m.uid);
  EXPECT_EQ(id.resource_version(), m.resource_version);
  EXPECT_EQ(id.extra(), extra);
  EXPECT_TRUE(id.Matches(m, extra));
}

TEST(ObjectIdentityTest, UuidUidReadsBackExactly) {
  ExpectRoundTrip(Meta("kube-system", "kube-dns", "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f60", "123"));
  ExpectRoundTrip(Meta("ns", "web", "00000000-0000-0000-0000-000000000000", "1"));
  ExpectRoundTrip(Meta("ns", "web", "ffffffff-ffff-ffff-ffff-ffffffffffff", "1"));
}

// Only the canonical form is packed; every other uid is kept as the text it was.
TEST(ObjectIdentityTest, OtherUidsReadBackExactly) {
  ExpectRoundTrip(Meta("ns", "web", "0F8E6C1A-93B2-4D7E-A5C4-1B2C3D4E5F60", "1"));  // upper case
  ExpectRoundTrip(Meta("ns", "web", "0f8e6c1a93b24d7ea5c41b2c3d4e5f60", "1"));      // no dashes
  ExpectRoundTrip(Meta("ns", "web", "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f6g", "1"));
  ExpectRoundTrip(Meta("ns", "web", "0f8e6c1a-93b2-4d7e-a5c4_1b2c3d4e5f60", "1"));
  ExpectRoundTrip(Meta("ns", "web", "u-1", "1"));
  ExpectRoundTrip(Meta("ns", "web", "", ""));
}

TEST(ObjectIdentityTest, ClusterScopedAndLongFields) {
  ExpectRoundTrip(Meta("", "node-1", "", "42"));
  const std::string long_text(300, 'a');  // lengths past one varint byte
  ExpectRoundTrip(Meta(long_text, long_text + "b", long_text + "c", long_text + "d"),
                  long_text + "e");
  ExpectRoundTrip(Meta("ns", "web-1", "u", "7"), "web");
}

// An extra text the name starts with is not stored twice; it reads back the same either way.
TEST(ObjectIdentityTest, ExtraThatStartsTheName) {
  const ObjectMeta m = Meta("ns", "web-x7k2p", "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f60", "7");
  for (std::string_view extra : {"web", "web-x7k2p", "we", "api", "web-x7k2p-2", "x7k2p"}) {
    ExpectRoundTrip(m, extra);
    EXPECT_NE(ObjectIdentity::Of(m, extra), ObjectIdentity::Of(m, "web-"));
  }
  ExpectRoundTrip(Meta("ns", "", "", ""), "");
}

TEST(ObjectIdentityTest, DefaultIsEmpty) {
  const ObjectIdentity id;
  EXPECT_EQ(id.Key(), "");
  EXPECT_EQ(id.Meta(), ObjectMeta());
  EXPECT_EQ(id, ObjectIdentity::Of(ObjectMeta()));
  EXPECT_TRUE(id.Matches(ObjectMeta()));
}

TEST(ObjectIdentityTest, EqualityAndMatchesSeeEveryField) {
  const ObjectMeta base = Meta("ns", "web", "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f60", "7");
  const ObjectIdentity id = ObjectIdentity::Of(base, "svc");
  EXPECT_EQ(id, ObjectIdentity::Of(base, "svc"));
  auto differs = [&](ObjectMeta m, std::string_view extra) {
    EXPECT_FALSE(id.Matches(m, extra));
    EXPECT_NE(id, ObjectIdentity::Of(m, extra));
  };
  differs(Meta("ns", "web", "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f61", "7"), "svc");
  differs(Meta("ns", "web", "0F8E6C1A-93B2-4D7E-A5C4-1B2C3D4E5F60", "7"), "svc");
  differs(Meta("ns", "web", "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f60", "8"), "svc");
  differs(Meta("ns", "web2", "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f60", "7"), "svc");
  differs(Meta("ns2", "web", "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f60", "7"), "svc");
  differs(base, "svd");
  differs(base, "");
  // The same key split differently is a different identity.
  EXPECT_NE(ObjectIdentity::Of(Meta("a", "b/c", "", "")),
            ObjectIdentity::Of(Meta("a/b", "c", "", "")));
}

TEST(ObjectIdentityTest, TagReadsBackAndCounts) {
  const ObjectMeta m = Meta("ns", "web-1", "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f60", "7");
  for (unsigned tag : {0u, 1u, ObjectIdentity::kTagLimit - 1}) {
    const ObjectIdentity id = ObjectIdentity::Of(m, "web", tag);
    EXPECT_EQ(id.tag(), tag);
    EXPECT_EQ(id.uid(), m.uid);
    EXPECT_TRUE(id.Matches(m, "web", tag));
    EXPECT_FALSE(id.Matches(m, "web", tag ^ 1));
    EXPECT_NE(id, ObjectIdentity::Of(m, "web", tag ^ 1));
  }
  EXPECT_EQ(ObjectIdentity().tag(), 0u);
}

TEST(ObjectIdentityTest, CopiesAreEqualAndIndependent) {
  ObjectIdentity a = ObjectIdentity::Of(Meta("ns", "web", "u-1", "7"), "x");
  ObjectIdentity b = a;
  EXPECT_EQ(a, b);
  a = ObjectIdentity::Of(Meta("ns", "api", "u-2", "8"));
  EXPECT_EQ(b.Key(), "ns/web");
  EXPECT_EQ(b.uid(), "u-1");
  EXPECT_EQ(a.Key(), "ns/api");
  ObjectIdentity c = std::move(b);
  EXPECT_EQ(c.extra(), "x");
  c = ObjectIdentity();
  EXPECT_EQ(c.Key(), "");
}

// A holder may keep the encoded bytes in a block of its own and rebuild the identity from them.
TEST(ObjectIdentityTest, BytesRoundTrip) {
  for (const ObjectIdentity& id :
       {ObjectIdentity::Of(Meta("ns", "web-x1", "0b0e3c1a-4f5d-4e6f-8a9b-0c1d2e3f4a5b", "42"),
                           "web", 3),
        ObjectIdentity::Of(Meta("", "node-1", "not-a-uuid", "")),
        ObjectIdentity::Of(ObjectMeta())}) {
    const std::string_view bytes = id.Bytes();
    ASSERT_FALSE(bytes.empty());
    EXPECT_EQ(ObjectIdentity::SizeIn(bytes.data()), bytes.size());
    EXPECT_EQ(ObjectIdentity::KeyIn(bytes.data()), id.Key());
    const ObjectIdentity back = ObjectIdentity::FromBytes(bytes);
    EXPECT_EQ(back, id);
    EXPECT_EQ(back.Bytes(), bytes);
    EXPECT_EQ(back.uid(), id.uid());
    EXPECT_EQ(back.tag(), id.tag());
  }
  EXPECT_TRUE(ObjectIdentity().Bytes().empty());
  EXPECT_EQ(ObjectIdentity::FromBytes({}), ObjectIdentity());
}

// Sources keep one of each per object (issue 15): growth here costs per Service and per slice.
TEST(ObjectIdentityTest, KeptFormsStaySmall) {
  EXPECT_EQ(sizeof(ObjectIdentity), sizeof(void*));
  EXPECT_LE(sizeof(KeptService), 24u);
  EXPECT_LE(sizeof(KeptSlice), 24u);
}

}  // namespace
}  // namespace kpx
