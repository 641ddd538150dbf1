#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/ip_address.h"
#include "proxier/nftables/nft_element_list.h"
#include "proxier/nftables/nft_elements.h"
#include "proxier/nftables/nft_layout.h"

namespace kpx {

// Pure builder of one nf_tables transaction: netlink messages framed by batch begin/end, built
// with libnftnl. The bytes are what the kernel receives; tests compare them and the fake kernel
// parses them back. Messages are numbered from `first_seq`; Describe() names the object a
// sequence number touched, so a kernel error can say which one it refused.
class NftBatch {
 public:
  explicit NftBatch(uint32_t first_seq = 1);

  // Empties the batch for messages numbered from `first_seq`, as a new one, but keeps the buffer
  // it grew: a full sync's bounded transactions reuse one allocation.
  void Reset(uint32_t first_seq);
  // Room for `bytes` of messages, so that a batch filled to a known bound never reallocates
  // (growing a 4 MiB buffer held it twice over for a moment).
  void Reserve(size_t bytes) { body_.reserve(bytes); }

  // Makes the kernel refuse the whole transaction (ERESTART) unless the ruleset is still at
  // generation `genid`: what kpx read (a dump) is what it changes, nobody wrote in between.
  void RequireGeneration(uint32_t genid) { genid_ = genid; }
  std::optional<uint32_t> required_generation() const { return genid_; }

  void AddTable(IpFamily family, const std::string& table);
  void DeleteTable(IpFamily family, const std::string& table);
  void AddChain(IpFamily family, const std::string& table, const NftChainSpec& chain);
  void FlushChain(IpFamily family, const std::string& table, const std::string& chain);
  void DeleteChain(IpFamily family, const std::string& table, const std::string& chain);
  void AddRule(IpFamily family, const std::string& table, const std::string& chain,
               const NftRuleSpec& rule);
  void AddSet(IpFamily family, const std::string& table, const NftSetSpec& set);
  void DeleteSet(IpFamily family, const std::string& table, const std::string& set);
  // Elements of one set, split into messages of at most kElementsPerMessage.
  // `ranges`: the set holds ranges; each element's key is its start key followed by its end key.
  void AddElements(IpFamily family, const std::string& table, const std::string& set,
                   std::span<const NftElement> elements, bool ranges = false);
  void DeleteElements(IpFamily family, const std::string& table, const std::string& set,
                      std::span<const NftElement> elements, bool ranges = false);
  // The same from a compact list: its elements at `positions`, or all of them from `begin` to
  // `end`, encoded straight from the list (a full sync never copies them into NftElements).
  void AddElements(IpFamily family, const std::string& table, const std::string& set,
                   const NftElementList& list, std::span<const uint32_t> positions,
                   bool ranges = false);
  void AddElements(IpFamily family, const std::string& table, const std::string& set,
                   const NftElementList& list, size_t begin, size_t end, bool ranges = false);
  void DeleteElements(IpFamily family, const std::string& table, const std::string& set,
                      const NftElementList& list, std::span<const uint32_t> positions,
                      bool ranges = false);

  // The whole transaction (begin, messages, end). Only the last message asks for an ACK: the
  // kernel reports every failing message anyway, and one ACK per message would overflow the
  // socket's receive buffer on large batches.
  std::vector<uint8_t> Bytes() const;
  // The same in three parts, for a sender that gathers them (sendmsg) rather than copying the
  // messages once more: the batch begin, the messages, the batch end.
  std::vector<uint8_t> BeginBytes() const;
  std::span<const uint8_t> Body() const { return body_; }
  std::vector<uint8_t> EndBytes() const;
  size_t message_count() const { return descriptions_.size(); }
  size_t byte_size() const { return body_.size(); }
  bool empty() const { return descriptions_.empty(); }
  uint32_t first_seq() const { return first_seq_; }
  uint32_t end_seq() const { return first_seq_ + static_cast<uint32_t>(descriptions_.size()) + 1; }
  // "add element service-ids (ip kpx)" for the message with sequence number `seq`.
  std::string Describe(uint32_t seq) const;
  size_t element_count() const { return elements_; }

  static constexpr size_t kElementsPerMessage = 512;

 private:
  // The buffer a message is built in before Append copies it into the batch.
  std::span<char> Scratch();
  void Append(const void* nlh, std::string description);
  // Records the message at `offset` of body_ as the last one: it carries the ACK request, which
  // the message before it no longer does.
  void Appended(size_t offset);
  // `at(i)` is the NftElementView of element i of `count`.
  template <typename At>
  void Elements(uint16_t type, IpFamily family, const std::string& table, const std::string& set,
                size_t count, const At& at, bool ranges);
  uint32_t NextSeq() const;

  uint32_t first_seq_;
  std::optional<uint32_t> genid_;
  std::vector<uint8_t> body_;
  std::vector<size_t> offsets_;  // of each message in body_
  std::vector<std::string> descriptions_;
  size_t elements_ = 0;
  std::vector<char> scratch_;
};

// errno from an nf_tables reply as a sentence an operator can act on.
std::string NftErrnoText(int err);

// "ip" or "ip6".
const char* NftFamilyName(IpFamily family);
uint16_t NftFamilyProto(IpFamily family);

}  // namespace kpx
