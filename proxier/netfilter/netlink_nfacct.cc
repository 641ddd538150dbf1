#include "proxier/netfilter/netlink_nfacct.h"

#include <libmnl/libmnl.h>
#include <libnetfilter_acct/libnetfilter_acct.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace kpx {

namespace {

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
struct NfacctFree {
  void operator()(nfacct* n) const { nfacct_free(n); }
};

// Sends one request and runs `on_reply` over the answers; an ACK-only exchange passes null.
// `error` receives the kernel's errno for a refused request (e.g. EEXIST).
Status Exchange(uint8_t cmd, uint16_t flags, const std::string& name, mnl_cb_t on_reply, void* data,
                int* error) {
  *error = 0;
  std::unique_ptr<mnl_socket, SocketCloser> sock(mnl_socket_open(NETLINK_NETFILTER));
  if (!sock) return Status::Error(std::string("nfacct: netlink socket: ") + std::strerror(errno));
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Status::Error(std::string("nfacct: bind: ") + std::strerror(errno));
  }
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  const uint32_t seq = 1;
  nlmsghdr* nlh = nfacct_nlmsg_build_hdr(buf.data(), cmd, flags | NLM_F_ACK, seq);
  std::unique_ptr<nfacct, NfacctFree> acct(nfacct_alloc());
  if (!acct) return Status::Error("nfacct: out of memory");
  nfacct_attr_set(acct.get(), NFACCT_ATTR_NAME, name.c_str());
  nfacct_nlmsg_build_payload(nlh, acct.get());
  if (mnl_socket_sendto(sock.get(), nlh, nlh->nlmsg_len) < 0) {
    return Status::Error(std::string("nfacct: send: ") + std::strerror(errno));
  }
  const unsigned int port = mnl_socket_get_portid(sock.get());
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
    if (n < 0) return Status::Error(std::string("nfacct: receive: ") + std::strerror(errno));
    const int r = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, port, on_reply, data);
    if (r < 0) {
      *error = errno;
      return Status::Error("nfacct " + name + ": " + std::strerror(*error));
    }
    if (r == MNL_CB_STOP) return Status::Ok();
  }
}

int ReadPackets(const nlmsghdr* nlh, void* data) {
  std::unique_ptr<nfacct, NfacctFree> acct(nfacct_alloc());
  if (!acct || nfacct_nlmsg_parse_payload(nlh, acct.get()) < 0) return MNL_CB_ERROR;
  *static_cast<uint64_t*>(data) = nfacct_attr_get_u64(acct.get(), NFACCT_ATTR_PKTS);
  return MNL_CB_OK;
}

}  // namespace

Status NetlinkNfacct::Ensure(const std::string& name) {
  // NLM_F_EXCL makes an existing counter an EEXIST, which is what "ensure" wants.
  int error = 0;
  Status st =
      Exchange(NFNL_MSG_ACCT_NEW, NLM_F_CREATE | NLM_F_EXCL, name, nullptr, nullptr, &error);
  if (!st.ok() && error == EEXIST) return Status::Ok();
  return st;
}

Result<uint64_t> NetlinkNfacct::Packets(const std::string& name) {
  uint64_t packets = 0;
  int error = 0;
  if (Status st = Exchange(NFNL_MSG_ACCT_GET, 0, name, &ReadPackets, &packets, &error); !st.ok()) {
    return st;
  }
  return packets;
}

}  // namespace kpx
