#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kpx {

// Builds one netlink message in host byte order, as the kernel expects on a local socket:
// nlmsghdr, then whatever payload and attributes are appended, each padded to 4 bytes. Pure, so
// every request kpx sends can be checked byte for byte in unit tests.
class NetlinkWriter {
 public:
  NetlinkWriter(uint16_t type, uint16_t flags, uint32_t seq, uint32_t port_id);

  // The generic-netlink header that follows nlmsghdr.
  void PutGenlHeader(uint8_t command, uint8_t version);
  void PutU16(uint16_t type, uint16_t value);
  void PutU32(uint16_t type, uint32_t value);
  // Big-endian 16-bit value (ports).
  void PutBe16(uint16_t type, uint16_t value);
  void PutBytes(uint16_t type, const void* data, size_t len);
  // A NUL-terminated string attribute (NLA_NUL_STRING).
  void PutString(uint16_t type, std::string_view value);
  // Nested attributes: everything put between Begin and End becomes the payload of `type`.
  size_t BeginNested(uint16_t type);
  void EndNested(size_t start);

  // The finished message with nlmsg_len filled in.
  std::vector<uint8_t> Finish() &&;

 private:
  void Append(const void* data, size_t len);
  void Pad();

  std::vector<uint8_t> buf_;
};

}  // namespace kpx
