#include "proxier/ipvs/ipvs_messages.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;

// IP plan.
const IpAddress kVip = Ip("10.96.0.1");
const IpAddress kVip6 = Ip("fd00::a");
const IpAddress kPod = Ip("10.244.1.5");

constexpr NetlinkRequestHeader kHeader{.family_id = 0x24, .seq = 7, .port_id = 0};

// Bytes as space-separated hex, so a mismatch shows where it is.
std::string Hex(const std::vector<uint8_t>& bytes) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", bytes[i]);
    if (i > 0) out += (i % 4 == 0) ? " | " : " ";
    out += buf;
  }
  return out;
}

std::vector<uint8_t> Bytes(std::initializer_list<uint32_t> words_le) {
  // Little-endian 32-bit words: the test host (x86-64) is little-endian like the VM.
  std::vector<uint8_t> out;
  for (uint32_t w : words_le) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(w >> (8 * i)));
  }
  return out;
}

IpvsService TcpService() {
  IpvsService s;
  s.key = {Protocol::kTCP, kVip, 80};
  s.scheduler = "rr";
  return s;
}

TEST(IpvsMessagesTest, NewServiceBytes) {
  // Laid out by hand from include/uapi/linux/ip_vs.h and linux/netlink.h.
  const std::vector<uint8_t> want = Bytes({
      104,                                          // nlmsg_len
      0x0005'0024,                                  // type 0x24 (family), flags REQUEST|ACK
      7,                                            // seq
      0,                                            // port id
      0x0000'0101,                                  // genl cmd NEW_SERVICE(1), version 1
      0x0001'0054,                                  // nested IPVS_CMD_ATTR_SERVICE(1), len 84
      0x0001'0006, 0x0002,                          // AF = AF_INET
      0x0002'0006, 0x0006,                          // PROTOCOL = 6
      0x0003'0014, 0x0100'600a, 0,           0, 0,  // ADDR 10.96.0.1 padded to 16 bytes
      0x0004'0006, 0x5000,                          // PORT 80, big endian
      0x0006'0007, 0x0000'7272,                     // SCHED_NAME "rr\0"
      0x0007'000c, 0,           0xffff'ffff,        // FLAGS {0, mask ~0}
      0x0008'0008, 0,                               // TIMEOUT 0
      0x0009'0008, 0xffff'ffff,                     // NETMASK
  });
  EXPECT_EQ(Hex(BuildNewServiceRequest(kHeader, TcpService())), Hex(want));
}

TEST(IpvsMessagesTest, PersistentIpv6ServiceUpdate) {
  IpvsService s;
  s.key = {Protocol::kUDP, kVip6, 53};
  s.scheduler = "wlc";
  s.flags = kIpvsFlagPersistent;
  s.timeout = 10800;
  s.netmask = IpvsFullNetmask(IpFamily::kIPv6);
  const auto bytes = BuildSetServiceRequest(kHeader, s);
  const std::vector<uint8_t> want = Bytes({
      104,         0x0005'0024, 7,           0,
      0x0000'0102,                                              // SET_SERVICE
      0x0001'0054, 0x0001'0006, 0x000a,                         // AF_INET6
      0x0002'0006, 0x0011,                                      // UDP
      0x0003'0014, 0x0000'00fd, 0,           0,   0x0a00'0000,  // fd00::a
      0x0004'0006, 0x3500,                                      // 53
      0x0006'0008, 0x0063'6c77,                                 // "wlc\0"
      0x0007'000c, 1,           0xffff'ffff,                    // persistent
      0x0008'0008, 10800,       0x0009'0008, 128,               // IPv6 netmask is a prefix length
  });
  EXPECT_EQ(Hex(bytes), Hex(want));
}

TEST(IpvsMessagesTest, DelServiceCarriesOnlyTheKey) {
  const std::vector<uint8_t> want = Bytes({
      68,
      0x0005'0024,
      7,
      0,
      0x0000'0103,
      0x0001'0030,  // nested, len 48
      0x0001'0006,
      0x0002,
      0x0002'0006,
      0x0006,
      0x0003'0014,
      0x0100'600a,
      0,
      0,
      0,
      0x0004'0006,
      0x5000,
  });
  EXPECT_EQ(Hex(BuildDelServiceRequest(kHeader, TcpService().key)), Hex(want));
}

TEST(IpvsMessagesTest, DumpsUseDumpFlagWithoutAck) {
  EXPECT_EQ(Hex(BuildGetServicesRequest(kHeader)),
            Hex(Bytes({20, 0x0301'0024, 7, 0, 0x0000'0104})));
  const auto dests = BuildGetDestsRequest(kHeader, TcpService().key);
  EXPECT_EQ(Hex({dests.begin(), dests.begin() + 24}),
            Hex(Bytes({68, 0x0301'0024, 7, 0, 0x0000'0108, 0x0001'0030})));
}

TEST(IpvsMessagesTest, NewDestBytes) {
  IpvsDestination d;
  d.key = {kPod, 8080};
  d.weight = 1;
  const std::vector<uint8_t> want = Bytes({
      140,         0x0005'0024, 7,           0,           0x0000'0105, 0x0001'0030,
      0x0001'0006, 0x0002,      0x0002'0006, 0x0006,      0x0003'0014, 0x0100'600a,
      0,           0,           0,           0x0004'0006, 0x5000,
      0x0002'0048,                                            // nested IPVS_CMD_ATTR_DEST, len 72
      0x0001'0014, 0x0501'f40a, 0,           0,           0,  // ADDR 10.244.1.5
      0x0002'0006, 0x901f,                                    // PORT 8080
      0x0003'0008, 0,                                         // FWD_METHOD masq
      0x0004'0008, 1,                                         // WEIGHT
      0x0005'0008, 0,           0x0006'0008, 0,               // thresholds
      0x000b'0006, 0x0002,                                    // ADDR_FAMILY
  });
  EXPECT_EQ(Hex(BuildNewDestRequest(kHeader, TcpService().key, d)), Hex(want));
}

TEST(IpvsMessagesTest, DelDestAndConfig) {
  const auto del = BuildDelDestRequest(kHeader, TcpService().key, {kPod, 8080});
  EXPECT_EQ(Hex({del.begin() + 68, del.end()}),
            Hex(Bytes({0x0002'0028, 0x0001'0014, 0x0501'f40a, 0, 0, 0, 0x0002'0006, 0x901f,
                       0x000b'0006, 0x0002})));
  EXPECT_EQ(Hex(BuildSetConfigRequest(kHeader, {900, 120, 300})),
            Hex(Bytes({44, 0x0005'0024, 7, 0, 0x0000'010c, 0x0004'0008, 900, 0x0005'0008, 120,
                       0x0006'0008, 300})));
  EXPECT_EQ(Hex(BuildGetConfigRequest(kHeader)), Hex(Bytes({20, 0x0005'0024, 7, 0, 0x010d})));
}

// A service as the kernel dumps it: a stats block to skip, the HASHED flag set, port id filled.
TEST(IpvsMessagesTest, ParsesKernelServiceDump) {
  const std::vector<uint8_t> reply = Bytes({
      124,         0x0002'0024, 7,           4242,        0x0000'0101,
      0x0001'0068,  // nested, len 104
      0x0001'0006, 0x0002,      0x0002'0006, 0x0011,      0x0003'0014, 0x0100'600a,
      0,           0,           0,           0x0004'0006, 0x3500,  // 53
      0x0006'0007, 0x0000'6873,                                    // "sh\0"
      0x0007'000c, 0x3,         0xffff'ffff,                       // PERSISTENT|HASHED
      0x0008'0008, 600,         0x0009'0008, 0xffff'ffff, 0x000a'0014, 0x0001'0008,
      12,          0x0002'0008, 34,  // STATS {CONNS 12, INPKTS 34}
  });
  auto msgs = SplitNetlinkMessages(reply);
  ASSERT_TRUE(msgs.ok()) << msgs.status().message();
  ASSERT_EQ(msgs->size(), 1u);
  EXPECT_EQ((*msgs)[0].flags, 2);
  auto svc = ParseServiceMessage((*msgs)[0]);
  ASSERT_TRUE(svc.ok()) << svc.status().message();
  EXPECT_EQ(svc->key.protocol, Protocol::kUDP);
  EXPECT_EQ(svc->key.address, kVip);
  EXPECT_EQ(svc->key.port, 53);
  EXPECT_EQ(svc->scheduler, "sh");
  EXPECT_TRUE(svc->persistent());
  EXPECT_EQ(svc->flags & kIpvsFlagHashed, kIpvsFlagHashed);
  EXPECT_EQ(svc->timeout, 600u);
}

TEST(IpvsMessagesTest, ServiceAndDestRoundTrip) {
  // A built NEW_* request has the same attribute layout as a dump part.
  IpvsService s = TcpService();
  s.key.address = kVip6;
  s.scheduler = "mh";
  s.netmask = 128;
  const auto bytes = BuildNewServiceRequest(kHeader, s);
  auto msgs = SplitNetlinkMessages(bytes);
  ASSERT_TRUE(msgs.ok());
  auto parsed = ParseServiceMessage((*msgs)[0]);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(*parsed, s);

  IpvsDestination d;
  d.key = {Ip("fd00:10::7"), 9376};
  d.weight = 0;
  const auto dbytes = BuildSetDestRequest(kHeader, s.key, d);
  auto dmsgs = SplitNetlinkMessages(dbytes);
  ASSERT_TRUE(dmsgs.ok());
  // SET_DEST is not a dump part: the parser insists on NEW_DEST.
  EXPECT_FALSE(ParseDestinationMessage((*dmsgs)[0], IpFamily::kIPv6).ok());
  auto nd = BuildNewDestRequest(kHeader, s.key, d);
  auto nmsgs = SplitNetlinkMessages(nd);
  auto pd = ParseDestinationMessage((*nmsgs)[0], IpFamily::kIPv6);
  ASSERT_TRUE(pd.ok()) << pd.status().message();
  EXPECT_EQ(*pd, d);
}

TEST(IpvsMessagesTest, ParsesDestCountersAndDefaultsFamily) {
  const std::vector<uint8_t> reply = Bytes({
      92,          0x0002'0024, 7,           1, 0x0000'0105, 0x0002'0048,
      0x0001'0014, 0x0501'f40a, 0,           0, 0,           0x0002'0006,
      0x901f,      0x0003'0008, 0x100,  // FWD_METHOD with a flag bit above the mask
      0x0004'0008, 0,           0x0007'0008, 3, 0x0008'0008, 5,
      0x0009'0008, 2,
  });
  auto msgs = SplitNetlinkMessages(reply);
  ASSERT_TRUE(msgs.ok());
  auto d = ParseDestinationMessage((*msgs)[0], IpFamily::kIPv4);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->key.address, kPod);
  EXPECT_EQ(d->key.port, 8080);
  EXPECT_EQ(d->forward_method, kIpvsForwardMasq);
  EXPECT_EQ(d->weight, 0);
  EXPECT_EQ(d->active_connections, 3u);
  EXPECT_EQ(d->inactive_connections, 5u);
  EXPECT_EQ(d->persistent_connections, 2u);
}

TEST(IpvsMessagesTest, ErrorsAcksAndMultipleMessages) {
  // EEXIST (-17) followed by an ACK in one datagram.
  std::vector<uint8_t> data =
      Bytes({36, 0x0000'0002, 7, 0, static_cast<uint32_t>(-17), 20, 0x0005'0024, 7, 0});
  auto ack = Bytes({36, 0x0100'0002, 8, 0, 0, 20, 0x0005'0024, 8, 0});
  data.insert(data.end(), ack.begin(), ack.end());
  auto msgs = SplitNetlinkMessages(data);
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 2u);
  EXPECT_EQ(*ParseErrorMessage((*msgs)[0]), 17);
  EXPECT_EQ(*ParseErrorMessage((*msgs)[1]), 0);
  EXPECT_EQ((*msgs)[1].seq, 8u);
}

TEST(IpvsMessagesTest, RejectsMalformedInput) {
  EXPECT_FALSE(SplitNetlinkMessages(Bytes({200, 2, 0, 0})).ok());
  EXPECT_FALSE(SplitNetlinkMessages(std::vector<uint8_t>{1, 2, 3}).ok());
  // A nested attribute that claims more than it has.
  auto bad = Bytes({28, 0x0002'0024, 7, 0, 0x0101, 0x0001'0040, 0x0001'0006});
  auto msgs = SplitNetlinkMessages(bad);
  ASSERT_TRUE(msgs.ok());
  EXPECT_FALSE(ParseServiceMessage((*msgs)[0]).ok());
  // Firewall-mark services are not kpx's.
  auto fw =
      Bytes({40, 0x0002'0024, 7, 0, 0x0101, 0x0001'0014, 0x0001'0006, 0x0002, 0x0005'0008, 0x4000});
  msgs = SplitNetlinkMessages(fw);
  ASSERT_TRUE(msgs.ok());
  auto r = ParseServiceMessage((*msgs)[0]);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("firewall-mark"), std::string::npos);
}

}  // namespace
}  // namespace kpx
