#include "proxier/ipvs/netlink_writer.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <cstring>

namespace kpx {

NetlinkWriter::NetlinkWriter(uint16_t type, uint16_t flags, uint32_t seq, uint32_t port_id) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = seq;
  h.nlmsg_pid = port_id;
  Append(&h, sizeof(h));
}

void NetlinkWriter::PutGenlHeader(uint8_t command, uint8_t version) {
  genlmsghdr g{};
  g.cmd = command;
  g.version = version;
  Append(&g, sizeof(g));
}

void NetlinkWriter::PutU16(uint16_t type, uint16_t value) { PutBytes(type, &value, sizeof(value)); }

void NetlinkWriter::PutU32(uint16_t type, uint32_t value) { PutBytes(type, &value, sizeof(value)); }

void NetlinkWriter::PutBe16(uint16_t type, uint16_t value) {
  const uint8_t be[2] = {static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value & 0xff)};
  PutBytes(type, be, sizeof(be));
}

void NetlinkWriter::PutBytes(uint16_t type, const void* data, size_t len) {
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  a.nla_type = type;
  Append(&a, sizeof(a));
  Append(data, len);
  Pad();
}

void NetlinkWriter::PutString(uint16_t type, std::string_view value) {
  std::vector<uint8_t> bytes(value.begin(), value.end());
  bytes.push_back(0);
  PutBytes(type, bytes.data(), bytes.size());
}

size_t NetlinkWriter::BeginNested(uint16_t type) {
  const size_t start = buf_.size();
  nlattr a{};
  a.nla_type = type;
  Append(&a, sizeof(a));
  return start;
}

void NetlinkWriter::EndNested(size_t start) {
  const uint16_t len = static_cast<uint16_t>(buf_.size() - start);
  std::memcpy(buf_.data() + start, &len, sizeof(len));
}

std::vector<uint8_t> NetlinkWriter::Finish() && {
  const uint32_t len = static_cast<uint32_t>(buf_.size());
  std::memcpy(buf_.data(), &len, sizeof(len));
  return std::move(buf_);
}

void NetlinkWriter::Append(const void* data, size_t len) {
  // resize + memcpy rather than insert(): GCC 12 reports a bogus overflow for the latter.
  const size_t old = buf_.size();
  buf_.resize(old + len);
  if (len > 0) std::memcpy(buf_.data() + old, data, len);
}

void NetlinkWriter::Pad() {
  while (buf_.size() % NLA_ALIGNTO != 0) buf_.push_back(0);
}

}  // namespace kpx
