#include "proxier/netfilter/ipt_entry_encoder.h"

#include <netinet/in.h>

#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_statistic.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

}  // namespace
}  // namespace kpx
