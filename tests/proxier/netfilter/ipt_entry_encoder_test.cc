#include "proxier/netfilter/ipt_entry_encoder.h"

#include <netinet/in.h>

#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_statistic.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace kpx {
namespace {

// The renderer's probabilities are read without strtod; they must land on the very same kernel
// value (iptables' own: the fraction of 2^31, rounded).
TEST(IptEntryEncoderTest, ProbabilitiesEncodeAsStrtodReadsThem) {
  std::vector<std::string> printed = {"0.5", "0.0000000001", "0.9999999999", "0.333333333333333",
                                      "1.0", "0.25e0"};
  for (int n = 1; n <= 3000; ++n) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%0.10f", 1.0 / n);
    printed.push_back(buf);
  }
  for (const std::string& p : printed) {
    auto entry = EncodeIptEntry(IpFamily::kIPv4, {"-m", "statistic", "--mode", "random",
                                                  "--probability", p, "-j", "KUBE-SEP-X"});
    ASSERT_TRUE(entry.ok()) << p << ": " << entry.status().message();
    xt_statistic_info info;
    std::memcpy(&info,
                entry->data() + XT_ALIGN(sizeof(ipt_entry)) + XT_ALIGN(sizeof(xt_entry_match)),
                sizeof(info));
    EXPECT_EQ(info.u.random.probability,
              static_cast<uint32_t>(std::lround(0x80000000 * std::strtod(p.c_str(), nullptr))))
        << p;
  }
  EXPECT_FALSE(EncodeIptEntry(IpFamily::kIPv4, {"-m", "statistic", "--mode", "random",
                                                "--probability", "half", "-j", "X"})
                   .ok());
}

// Appended after what the buffer holds, with the header's offsets relative to the entry: a
// section's rules are encoded back to back into one scratch buffer per thread.
TEST(IptEntryEncoderTest, AppendsAfterWhatTheBufferHolds) {
  const std::vector<std::string_view> args = {"-s", "10.0.0.1/32", "-j", "ACCEPT"};
  auto alone = EncodeIptEntry(IpFamily::kIPv4, args);
  ASSERT_TRUE(alone.ok()) << alone.status().message();
  std::vector<unsigned char> out = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(EncodeIptEntryInto(IpFamily::kIPv4, args, out).ok());
  ASSERT_EQ(out.size(), 8 + alone->size());
  EXPECT_EQ(std::vector<unsigned char>(out.begin() + 8, out.end()), *alone);
  ipt_entry e;
  std::memcpy(&e, alone->data(), sizeof(e));
  EXPECT_EQ(e.next_offset, alone->size());
  EXPECT_EQ(e.ip.src.s_addr, htonl(0x0a000001));
}

// What kpx never renders fails with the word that is not understood, not with a guess.
TEST(IptEntryEncoderTest, UnknownVocabularyIsNamed) {
  auto bad =
      EncodeIptEntry(IpFamily::kIPv4, std::vector<std::string>{"-m", "owner", "-j", "ACCEPT"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("owner"), std::string::npos) << bad.status().message();
  auto v6 =
      EncodeIptEntry(IpFamily::kIPv6, std::vector<std::string>{"-s", "10.0.0.1", "-j", "ACCEPT"});
  ASSERT_FALSE(v6.ok());
  EXPECT_NE(v6.status().message().find("10.0.0.1"), std::string::npos) << v6.status().message();
}

// The header of either family: addresses and masks, the protocol, interfaces (a trailing '+'
// matches the prefix: its NUL is not compared), and each negation on its own flag bit.
TEST(IptEntryEncoderTest, HeaderFieldsAndNegationsOfBothFamilies) {
  auto v4 = EncodeIptEntry(
      IpFamily::kIPv4,
      std::vector<std::string>{"!", "-s", "10.0.0.0/8", "-d", "10.1.2.3", "!", "-p", "tcp", "-i",
                               "eth0", "!", "-o", "veth+", "-j", "ACCEPT"});
  ASSERT_TRUE(v4.ok()) << v4.status().message();
  ipt_entry e4;
  std::memcpy(&e4, v4->data(), sizeof(e4));
  EXPECT_EQ(e4.ip.src.s_addr, htonl(0x0a000000));
  EXPECT_EQ(e4.ip.smsk.s_addr, htonl(0xff000000));
  EXPECT_EQ(e4.ip.dst.s_addr, htonl(0x0a010203));
  EXPECT_EQ(e4.ip.dmsk.s_addr, htonl(0xffffffff));
  EXPECT_EQ(e4.ip.proto, IPPROTO_TCP);
  EXPECT_EQ(e4.ip.flags, 0);
  EXPECT_EQ(e4.ip.invflags, IPT_INV_SRCIP | XT_INV_PROTO | IPT_INV_VIA_OUT);
  EXPECT_STREQ(e4.ip.iniface, "eth0");
  EXPECT_EQ(std::count(std::begin(e4.ip.iniface_mask), std::end(e4.ip.iniface_mask), 0xff), 5);
  EXPECT_STREQ(e4.ip.outiface, "veth");
  EXPECT_EQ(std::count(std::begin(e4.ip.outiface_mask), std::end(e4.ip.outiface_mask), 0xff), 4);

  auto v6 = EncodeIptEntry(IpFamily::kIPv6,
                           std::vector<std::string>{"-s", "fd00::/64", "!", "-d", "fd00::1", "-p",
                                                    "udp", "!", "-i", "eth1", "-j", "ACCEPT"});
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  ip6t_entry e6;
  std::memcpy(&e6, v6->data(), sizeof(e6));
  const unsigned char src[16] = {0xfd};
  const unsigned char dst[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  unsigned char half[16] = {};
  std::memset(half, 0xff, 8);
  unsigned char all[16];
  std::memset(all, 0xff, 16);
  EXPECT_EQ(std::memcmp(&e6.ipv6.src, src, 16), 0);
  EXPECT_EQ(std::memcmp(&e6.ipv6.smsk, half, 16), 0);
  EXPECT_EQ(std::memcmp(&e6.ipv6.dst, dst, 16), 0);
  EXPECT_EQ(std::memcmp(&e6.ipv6.dmsk, all, 16), 0);
  EXPECT_EQ(e6.ipv6.proto, IPPROTO_UDP);
  EXPECT_EQ(e6.ipv6.flags, IP6T_F_PROTO);  // ip6tables matches the protocol only with this flag
  EXPECT_EQ(e6.ipv6.invflags, IP6T_INV_DSTIP | IP6T_INV_VIA_IN);
  EXPECT_STREQ(e6.ipv6.iniface, "eth1");
  EXPECT_EQ(e6.ipv6.outiface[0], '\0');
}

}  // namespace
}  // namespace kpx
