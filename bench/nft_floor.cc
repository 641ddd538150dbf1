// kpx-nft-floor: the kernel's own cost of loading map elements, for comparison with kpx's full
// sync. A minimal libnftnl loop, independent of kpx's code: one table with one map per shape
// kpx uses at scale, N elements each, committed in transactions of at most 4 MiB (as kpx does);
// only the commits (sendmsg to ACK) are timed. Run it inside a private network namespace:
//
//   ip netns exec NS kpx-nft-floor --elements 230000 [--size-hint] [--bindings K]
//
// Prints one CSV row: elements,transactions,build_ms,commit_ms. --size-hint declares each map's
// final size (the kernel then sizes its hash table once instead of growing it). --bindings K
// first adds K rules that look the map up (as kpx's endpoint chains each do with its endpoints
// map): the kernel checks every new element against every rule bound to the map.

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr char kTable[] = "kpx-floor";
constexpr size_t kMaxBatch = 4u << 20;
constexpr int kPerMessage = 512;

struct Batch {
  std::vector<char> buf = std::vector<char>(kMaxBatch + (1 << 20));
  mnl_nlmsg_batch* b = nullptr;
  uint32_t seq = 1;
  nlmsghdr* last = nullptr;  // the message that asks for the ACK
  Batch() {
    b = mnl_nlmsg_batch_start(buf.data(), buf.size());
    nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(b)), seq++);
    mnl_nlmsg_batch_next(b);
  }
  ~Batch() { mnl_nlmsg_batch_stop(b); }
  char* Cur() { return static_cast<char*>(mnl_nlmsg_batch_current(b)); }
  size_t Size() { return mnl_nlmsg_batch_size(b); }
  // Appends one message of `type` whose payload `build` writes into the header it is given.
  template <typename Build>
  void Add(uint16_t type, uint16_t flags, Build build) {
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(Cur(), type, NFPROTO_IPV4, flags, seq++);
    build(nlh);
    last = nlh;
    mnl_nlmsg_batch_next(b);
  }
};

int Fail(const char* what) {
  std::fprintf(stderr, "kpx-nft-floor: %s: %s\n", what, std::strerror(errno));
  return 1;
}

// Sends one transaction and reads replies until the ACK of its last message.
bool Commit(mnl_socket* nl, Batch& batch) {
  const uint32_t last_seq = batch.last->nlmsg_seq;
  batch.last->nlmsg_flags |= NLM_F_ACK;
  nftnl_batch_end(batch.Cur(), batch.seq++);
  mnl_nlmsg_batch_next(batch.b);
  if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(batch.b), batch.Size()) < 0) return false;
  std::vector<char> rx(MNL_SOCKET_BUFFER_SIZE);
  const uint32_t portid = mnl_socket_get_portid(nl);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl, rx.data(), rx.size());
    if (n <= 0) return false;
    const int r = mnl_cb_run(rx.data(), static_cast<size_t>(n), 0, portid, nullptr, nullptr);
    if (r < 0) return false;
    const auto* h = reinterpret_cast<const nlmsghdr*>(rx.data());
    if (h->nlmsg_seq == last_seq) return true;
  }
}

void AddMap(Batch& batch, const char* name, uint32_t klen, uint32_t dlen, uint32_t size,
            bool resizable) {
  nftnl_set* s = nftnl_set_alloc();
  nftnl_set_set_str(s, NFTNL_SET_TABLE, kTable);
  nftnl_set_set_str(s, NFTNL_SET_NAME, name);
  nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_IPV4);
  nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP | (resizable ? NFT_SET_TIMEOUT : 0));
  if (resizable) nftnl_set_set_u32(s, NFTNL_SET_GC_INTERVAL, UINT32_MAX);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, klen);
  nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, 0);
  nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, dlen);
  nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
  if (size != 0) nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
  batch.Add(NFT_MSG_NEWSET, NLM_F_CREATE,
            [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s); });
  nftnl_set_free(s);
}

// A regular chain "c" with k rules: r1:r2 = 0, then the map looked up from r1:r2 into r3:r4.
void AddBindings(Batch& batch, int k) {
  nftnl_chain* c = nftnl_chain_alloc();
  nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, kTable);
  nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "c");
  batch.Add(NFT_MSG_NEWCHAIN, NLM_F_CREATE,
            [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c); });
  nftnl_chain_free(c);
  for (int i = 0; i < k; ++i) {
    nftnl_rule* r = nftnl_rule_alloc();
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, kTable);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "c");
    nftnl_expr* imm = nftnl_expr_alloc("immediate");
    const uint32_t zero[2] = {0, 0};
    nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG32_00);
    nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, zero, sizeof(zero));
    nftnl_rule_add_expr(r, imm);
    nftnl_expr* lookup = nftnl_expr_alloc("lookup");
    nftnl_expr_set_u32(lookup, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
    nftnl_expr_set_u32(lookup, NFTNL_EXPR_LOOKUP_DREG, NFT_REG32_02);
    nftnl_expr_set_str(lookup, NFTNL_EXPR_LOOKUP_SET, "m");
    nftnl_rule_add_expr(r, lookup);
    batch.Add(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
              [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r); });
    nftnl_rule_free(r);
  }
}

}  // namespace

int main(int argc, char** argv) {
  long n = 230000;
  bool size_hint = false, resizable = false;
  int bindings = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--elements" && i + 1 < argc) {
      n = std::atol(argv[++i]);
    } else if (a == "--size-hint") {
      size_hint = true;
    } else if (a == "--resizable-hint") {
      size_hint = resizable = true;
    } else if (a == "--bindings" && i + 1 < argc) {
      bindings = std::atoi(argv[++i]);
    } else {
      std::fprintf(
          stderr,
          "usage: kpx-nft-floor [--elements N] [--size-hint | --resizable-hint] [--bindings K]\n");
      return 2;
    }
  }
  if (n < 1) return 2;
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) return Fail("netlink");
  int sz = static_cast<int>(2 * kMaxBatch);
  setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));

  // The table and one map with kpx's largest shape: (set id . index) -> (address . port).
  {
    Batch batch;
    nftnl_table* t = nftnl_table_alloc();
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, kTable);
    batch.Add(NFT_MSG_NEWTABLE, NLM_F_CREATE,
              [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t); });
    nftnl_table_free(t);
    AddMap(batch, "m", 8, 8, size_hint ? static_cast<uint32_t>(n) : 0, resizable);
    AddBindings(batch, bindings);
    if (!Commit(nl, batch)) return Fail("creating the table");
  }

  std::chrono::nanoseconds build{0}, commit{0};
  long done = 0, transactions = 0;
  while (done < n) {
    const auto t0 = std::chrono::steady_clock::now();
    Batch batch;
    while (done < n && batch.Size() < kMaxBatch) {
      nftnl_set* s = nftnl_set_alloc();
      nftnl_set_set_str(s, NFTNL_SET_TABLE, kTable);
      nftnl_set_set_str(s, NFTNL_SET_NAME, "m");
      for (int j = 0; j < kPerMessage && done < n; ++j, ++done) {
        const uint32_t key[2] = {static_cast<uint32_t>(done / 10),
                                 static_cast<uint32_t>(done % 10)};
        const uint32_t data[2] = {static_cast<uint32_t>(0x0a800000 + done), 0x901f0000};
        nftnl_set_elem* e = nftnl_set_elem_alloc();
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof(key));
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data, sizeof(data));
        nftnl_set_elem_add(s, e);
      }
      batch.Add(NFT_MSG_NEWSETELEM, NLM_F_CREATE,
                [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s); });
      nftnl_set_free(s);
    }
    // Only the last message asks for an ACK, as kpx does.
    const auto t1 = std::chrono::steady_clock::now();
    if (!Commit(nl, batch)) return Fail("committing elements");
    const auto t2 = std::chrono::steady_clock::now();
    build += t1 - t0;
    commit += t2 - t1;
    ++transactions;
  }
  std::printf("%ld,%ld,%.1f,%.1f\n", n, transactions,
              std::chrono::duration<double, std::milli>(build).count(),
              std::chrono::duration<double, std::milli>(commit).count());

  // Leave nothing behind.
  Batch batch;
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, kTable);
  batch.Add(NFT_MSG_DELTABLE, 0, [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t); });
  nftnl_table_free(t);
  if (!Commit(nl, batch)) return Fail("deleting the table");
  mnl_socket_close(nl);
  return 0;
}
